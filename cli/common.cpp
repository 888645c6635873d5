#include "cli/common.h"

#include <cstdio>

#include "build_info.h"
#include "core/platform/cpu_info.h"
#include "core/kernels/dnnl_context.h"
#include "core/platform/threading.h"

namespace sparsifiner {

void threads_apply(int threads) { threads_set(threads); }

nlohmann::json tool_identity() {
    return {{"name", "sparsifiner"},
            {"version", SPARSIFINER_VERSION},
            {"commit", SPARSIFINER_GIT_COMMIT},
            {"build", SPARSIFINER_BUILD_FLAVOUR},
            {"build_type", SPARSIFINER_BUILD_TYPE},
            {"compiler", SPARSIFINER_COMPILER}};
}

nlohmann::json machine_identity() {
    return {{"cpu", cpu_model_name()},
            {"isa", cpu_isa_summary()},
            {"dnnl_isa", dnnl_isa_name()},
            {"threads", threads_get()}};
}

nlohmann::json json_document(const std::string& command, int schema_version) {
    return {{"schema_version", schema_version}, {"command", command}, {"tool", tool_identity()}};
}

void report_warning(const std::string& message) {
    std::fprintf(stderr, "sparsifiner: warning: %s\n", message.c_str());
}

void report_error(const std::string& message) { std::fprintf(stderr, "sparsifiner: %s\n", message.c_str()); }

}  // namespace sparsifiner
