#pragma once
// What every subcommand shares: exit codes (cli/EXIT_CODES.md), one-line errors, the start of
// every JSON document. Shared flags are in cli/flags.h, model loading in cli/model_open.h.
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

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

// The thread count flag: applies to OpenMP and oneDNN alike.
void threads_apply(int threads);

// {"name", "version", "commit", "build"}: every JSON document carries it.
nlohmann::json tool_identity();
// {"cpu", "isa", "kernel_isa", "dnnl_isa", "bf16_native", "threads"}.
nlohmann::json machine_identity();

// {"schema_version", "command", "tool"}: the start of every JSON document a command prints.
nlohmann::json json_document(const std::string& command, int schema_version = kJsonSchemaVersion);

// Prints "sparsifiner: warning: <message>" on stderr.
void report_warning(const std::string& message);

// After a forward pass: NaN or infinity among the logits (finite weights so large that the float
// arithmetic overflows) is CommandError(kExitRuntimeError) naming the model file, never printed
// as NaN probabilities with success.
void logits_check(const float* logits, size_t count, const std::string& model_path);

// Text from a file (model metadata, class names, file names) made safe for a terminal table:
// control characters (C0, DEL, and C1 as UTF-8 or raw bytes) become \xNN, so a hostile name
// cannot retitle the window or clear the screen. JSON output needs no such step.
std::string table_text(const std::string& text);

// Early checks of output paths, before any long work (cli/output_file.h); a problem is
// CommandError(kExitRuntimeError) naming the path.
void output_path_check(const std::string& path);
void output_folder_check(const std::string& folder);

// A JSON document as text for stdout: indented, and strings that are not valid UTF-8 (file
// names are bytes) get U+FFFD for the bad bytes instead of throwing after the work is done.
std::string json_text(const nlohmann::json& document);

// Prints "sparsifiner: <message>" on stderr.
void report_error(const std::string& message);

}  // namespace sparsifiner
