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
// {"cpu", "isa", "dnnl_isa", "threads"}.
nlohmann::json machine_identity();

// {"schema_version", "command", "tool"}: the start of every JSON document a command prints.
nlohmann::json json_document(const std::string& command, int schema_version = kJsonSchemaVersion);

// Prints "sparsifiner: warning: <message>" on stderr.
void report_warning(const std::string& message);

// Prints "sparsifiner: <message>" on stderr.
void report_error(const std::string& message);

}  // namespace sparsifiner
