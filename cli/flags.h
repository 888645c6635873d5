#pragma once
// The flags several subcommands share, declared once: which model (ModelFlags), how attention
// runs (AttentionFlags), and how a command runs and reports (RunFlags: threads, output format,
// progress). A new shared flag goes here, and every command that adds the group gets it.
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/common.h"
#include "core/kernels/dtype.h"
#include "core/model/attention_plan.h"
#include "core/model/deit_model.h"

namespace sparsifiner {

// The flags that say which model to load and how.
struct ModelFlags {
    std::string path;
    int num_heads = 0;   // override, for files without metadata and an unusual width
    int img_size = 0;    // run at this input size (0 = the size the model was trained for)
    bool bundled = false;  // path was filled in by use_default_if_absent()
    std::string dtype = "f32";  // --dtype: one value, or a comma list where the command takes one
    // required = false when the command falls back to the bundled model (use_default_if_absent)
    // or can build a model without a file (profile). dtype_list: --dtype takes "f32,bf16".
    void add_to(CLI::App& command, bool required = true, bool dtype_list = false);
    // The dtypes asked for, in order, each once. bf16 on a CPU without native bf16 (avx512_bf16
    // or amx_bf16) is CommandError(kExitUsage) in one line: it is refused, never emulated.
    std::vector<Dtype> dtypes() const;
    // The one dtype of a command that takes one (a list is refused by then, at parse time).
    Dtype dtype_one() const { return dtypes().front(); }
    // No -m: the bundled model (cli/default_model.h), or $SPARSIFINER_MODEL; model_load says
    // which on stderr once it has loaded. Throws CommandError when there is none.
    void use_default_if_absent();
};

// The flags that choose how attention runs: mask source, budget, token pruning (SPEC 2-4).
struct AttentionFlags {
    std::string mask;        // empty = the model's default (learned for Sparsifiner, else dense)
    std::string keep_rates;  // "0.25" or one value per block
    std::string prune_at;    // "3,6,9"
    float token_keep = 1.0f;
    std::string budget_rule;  // empty = official
    std::string token_keeps;  // with lists: "1,0.7" (--token-keep as a list)
    // With lists, --mask and --token-keep take comma-separated lists (bench times every
    // combination in one run).
    void add_to(CLI::App& command, bool lists = false);
    // With lists: every mask x token-keep rate as flags of one setting each, masks outer, in the
    // order given. Throws CommandError(kExitUsage) for a bad item or --token-keep without --prune-at.
    std::vector<AttentionFlags> settings() const;
    // Throws CommandError(kExitUsage) with the reason.
    AttentionPlan plan_for(const DeitConfig& config) const;
};

// How results are printed: --format, with --json as its short form.
enum class OutputFormat { table, json, csv, md };

// How a command runs and reports. Which parts a command has is chosen when it adds them.
struct RunFlags {
    int threads = 1;
    std::string format = "table";
    bool json = false;
    bool quiet = false, progress = false;

    enum Parts : unsigned { kThreads = 1, kFormat = 2, kProgress = 4, kAll = 7 };
    void add_to(CLI::App& command, unsigned parts = kAll);
    // The format asked for; --json with another --format is a usage error.
    OutputFormat output_format() const;
    // The progress line: on a terminal unless --quiet; --progress forces lines on a pipe too.
    bool progress_on_terminal() const { return !quiet; }
    bool progress_forced() const { return !quiet && progress; }
};

// "learned,window" -> {"learned", "window"} (empty items kept, for the caller to refuse).
std::vector<std::string> split_list(const std::string& text);
// --token-keep as a list of rates, each in (0, 1]; it needs --prune-at (the blocks that prune).
// Throws CommandError(kExitUsage).
std::vector<float> token_keep_list(const std::string& text, const std::string& prune_at);

// "0.5,0.25" -> {0.5, 0.25}; "1,8" -> {1, 8} (whole numbers in [minimum, 4096]).
// Throws CommandError(kExitUsage) naming the flag and the bad item.
template <typename T>
std::vector<T> parse_list(const std::string& text, const std::string& flag, T minimum = T(1)) {
    static_assert(std::is_same<T, int>::value || std::is_same<T, float>::value, "int or float lists");
    std::vector<T> values;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        size_t used = 0;
        T value = 0;
        try {
            if constexpr (std::is_same<T, int>::value) value = std::stoi(item, &used);
            else value = std::stof(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if constexpr (std::is_same<T, int>::value) {
            if (used == 0 || used != item.size() || value < minimum || value > 4096)
                throw CommandError(kExitUsage, flag + ": '" + item + "' is not a whole number from " +
                                                   std::to_string(minimum) + " to 4096");
        } else {
            if (used == 0 || used != item.size()) throw CommandError(kExitUsage, flag + ": '" + item + "' is not a number");
        }
        values.push_back(value);
    }
    if (values.empty()) throw CommandError(kExitUsage, flag + ": needs at least one value");
    return values;
}

}  // namespace sparsifiner
