#pragma once
// What every subcommand shares: exit codes (cli/EXIT_CODES.md), model loading with one-line
// errors, the tool's identity in JSON documents, list flags.
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <memory>

#include "core/model/attention_plan.h"
#include "core/model/deit_model.h"
#include "weights/deit_weights.h"

namespace sparsifiner {

constexpr int kJsonSchemaVersion = 1;

enum ExitCode {
    kExitOk = 0,
    kExitSomeInputsFailed = 1,
    kExitUsage = 2,
    kExitModelError = 3,
    kExitRuntimeError = 4,
};

// An error that ends a command: printed as one line on stderr, then exit with `code`.
struct CommandError : std::runtime_error {
    CommandError(int code, const std::string& message) : std::runtime_error(message), code(code) {}
    int code;
};

// The flags that say which model to load and how.
struct ModelFlags {
    std::string path;
    int num_heads = 0;   // override, for files without metadata and an unusual width
    int img_size = 0;    // run at this input size (0 = the size the model was trained for)
    // required = false when the command falls back to the bundled model (use_default_if_absent)
    // or can build a model without a file (profile).
    void add_to(CLI::App& command, bool required = true);
    // No -m: the bundled model (cli/default_model.h). Throws CommandError when there is none.
    void use_default_if_absent();
};

// The flags that choose how attention runs: mask source, budget, token pruning (SPEC 2-4).
struct AttentionFlags {
    std::string mask;        // empty = the model's default (learned for Sparsifiner, else dense)
    std::string keep_rates;  // "0.25" or one value per block
    std::string prune_at;    // "3,6,9"
    float token_keep = 1.0f;
    std::string budget_rule;  // empty = official
    void add_to(CLI::App& command);
    // Throws CommandError(kExitUsage) with the reason.
    AttentionPlan plan_for(const DeitConfig& config) const;
};

// {"mask", "keep_rate": [per block], "prune_at", "token_keep", "budget_rule"}.
nlohmann::json attention_plan_json(const AttentionPlan& plan);

// "0.5,0.25" -> {0.5, 0.25}. Throws CommandError(kExitUsage).
std::vector<float> parse_float_list(const std::string& text, const std::string& flag);

// Loads and validates the weight file; throws CommandError(kExitModelError) naming the file.
DeitWeights model_load(const ModelFlags& flags);

// The model at the requested input size with the requested attention plan; a combination that
// cannot run (a foreign size for learned masks, ...) is CommandError(kExitUsage).
std::unique_ptr<DeitModel> model_build(const DeitWeights& weights, const ModelFlags& model_flags,
                                       const AttentionFlags& attention_flags);

// The thread count flag: applies to OpenMP and oneDNN alike.
void threads_apply(int threads);

// {"name", "version", "commit", "build"}: every JSON document carries it.
nlohmann::json tool_identity();
// {"name", "isa", "dnnl_isa", "threads"}.
nlohmann::json machine_identity();

// "1,8" -> {1, 8}; every value in [minimum, 4096]. Throws CommandError(kExitUsage).
std::vector<int> parse_int_list(const std::string& text, const std::string& flag, int minimum = 1);

// Prints "sparsifiner: <message>" on stderr.
void report_error(const std::string& message);

}  // namespace sparsifiner
