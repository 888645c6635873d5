#pragma once
// Each subcommand registers its flags on the app and hands back the function that runs it.
#include <functional>

#include <CLI/CLI.hpp>

namespace sparsifiner {

struct Command {
    CLI::App* app;
    std::function<int()> run;  // returns the exit code
};

Command classify_command(CLI::App& app);
Command info_command(CLI::App& app);
Command bench_command(CLI::App& app);
Command sweep_command(CLI::App& app);
Command merge_command(CLI::App& app);
Command profile_command(CLI::App& app);
Command visualize_command(CLI::App& app);
Command compare_command(CLI::App& app);

}  // namespace sparsifiner
