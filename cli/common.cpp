#include "cli/common.h"

#include <cstdio>
#include <sstream>

#include "build_info.h"
#include "core/cpu_info.h"
#include "core/dnnl_context.h"
#include "core/threading.h"

namespace sparsifiner {

void ModelFlags::add_to(CLI::App& command) {
    command.add_option("-m,--model", path, "Weight file (.safetensors, see weights/convert.py)")->required();
    command.add_option("--num-heads", num_heads, "Override the number of attention heads (files without metadata)")
        ->check(CLI::Range(1, 1024));
    command.add_option("--img-size", img_size,
                       "Input size in pixels, a multiple of the patch size (default: the model's own; "
                       "pos_embed is resized)")
        ->check(CLI::Range(1, 8192));
}

DeitWeights model_load(const ModelFlags& flags) {
    try {
        DeitConfigOverrides overrides;
        overrides.num_heads = flags.num_heads;
        SafetensorsFile file = SafetensorsFile::open(flags.path);
        DeitWeights weights = deit_weights_load(file, overrides);
        const int S = flags.img_size > 0 ? flags.img_size : weights.config.img_size;
        if (S % weights.config.patch_size != 0)
            throw CommandError(kExitUsage, "--img-size " + std::to_string(S) + " is not a multiple of the patch size " +
                                               std::to_string(weights.config.patch_size));
        return weights;
    } catch (const WeightFileError& e) {
        throw CommandError(kExitModelError, e.what());
    }
}

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

std::vector<int> parse_positive_int_list(const std::string& text, const std::string& flag) {
    std::vector<int> values;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        size_t used = 0;
        int value = 0;
        try {
            value = std::stoi(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || value < 1 || value > 4096)
            throw CommandError(kExitUsage, flag + ": '" + item + "' is not a whole number from 1 to 4096");
        values.push_back(value);
    }
    if (values.empty()) throw CommandError(kExitUsage, flag + ": needs at least one value");
    return values;
}

void report_error(const std::string& message) { std::fprintf(stderr, "sparsifiner: %s\n", message.c_str()); }

}  // namespace sparsifiner
