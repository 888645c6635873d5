#include "cli/common.h"

#include "cli/output_file.h"

#include <cmath>

#include <cstdio>

#include "build_info.h"
#include "core/platform/cpu_info.h"
#include "core/platform/isa.h"
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
            {"kernel_isa", isa_name(isa_best())},
            {"dnnl_isa", dnnl_isa_name()},
            {"bf16_native", cpu_bf16_native()},
            {"threads", threads_get()}};
}

nlohmann::json json_document(const std::string& command, int schema_version) {
    return {{"schema_version", schema_version}, {"command", command}, {"tool", tool_identity()}};
}

void report_warning(const std::string& message) {
    std::fprintf(stderr, "sparsifiner: warning: %s\n", message.c_str());
}

void logits_check(const float* logits, size_t count, const std::string& model_path) {
    for (size_t i = 0; i < count; i++)
        if (!std::isfinite(logits[i]))
            throw CommandError(kExitRuntimeError, (model_path.empty() ? std::string("model") : model_path) +
                                                      ": the model computed NaN or infinite logits (its weights "
                                                      "overflow float arithmetic): no result");
}

std::string table_text(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); i++) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        const bool c1_utf8 = c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                             static_cast<unsigned char>(text[i + 1]) <= 0x9F;
        if (c < 0x20 || c == 0x7F || c1_utf8) {
            const unsigned char shown = c1_utf8 ? static_cast<unsigned char>(text[++i]) : c;
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", shown);
            out += escaped;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

void output_path_check(const std::string& path) {
    try {
        output_check_writable(path);
    } catch (const OutputError& e) {
        throw CommandError(kExitRuntimeError, e.what());
    }
}

void output_folder_check(const std::string& folder) {
    try {
        output_folder_prepare(folder);
    } catch (const OutputError& e) {
        throw CommandError(kExitRuntimeError, e.what());
    }
}

std::string json_text(const nlohmann::json& document) {
    return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

void report_error(const std::string& message) { std::fprintf(stderr, "sparsifiner: %s\n", message.c_str()); }

}  // namespace sparsifiner
