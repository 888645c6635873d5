#pragma once
// What every subcommand shares: exit codes (cli/EXIT_CODES.md), model loading with one-line
// errors, the tool's identity in JSON documents, list flags.
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

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
    void add_to(CLI::App& command);
};

// Loads and validates the weight file; throws CommandError(kExitModelError) naming the file.
DeitWeights model_load(const ModelFlags& flags);

// The thread count flag: applies to OpenMP and oneDNN alike.
void threads_apply(int threads);

// {"name", "version", "commit", "build"}: every JSON document carries it.
nlohmann::json tool_identity();
// {"name", "isa", "dnnl_isa", "threads"}.
nlohmann::json machine_identity();

// "1,8" -> {1, 8}; every value >= 1. Throws CommandError(kExitUsage).
std::vector<int> parse_positive_int_list(const std::string& text, const std::string& flag);

// Prints "sparsifiner: <message>" on stderr.
void report_error(const std::string& message);

}  // namespace sparsifiner
