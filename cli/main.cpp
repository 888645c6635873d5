// sparsifiner: run DeiT and Sparsifiner Vision Transformers on the CPU and show where the time
// and the FLOPs go. This file only parses, dispatches and maps failures to exit codes.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "build_info.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output_file.h"
#include "cli/suggest.h"

using namespace sparsifiner;

// OpenMP threads that spin while idle steal the shared second core: with active waiting two
// threads measured 5-20x slower than one on a busy 2-core machine. libgomp reads
// OMP_WAIT_POLICY once, when it is loaded, before main() runs, so when the user has not chosen a
// policy we set PASSIVE and re-execute ourselves once. A user's own setting is respected.
static void ensure_passive_openmp_waiting(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);
    // execv only returns on failure (no /proc): carry on with the default policy.
}

namespace {

std::string command_list(const std::vector<Command>& commands) {
    std::string list;
    for (const Command& c : commands) list += (list.empty() ? "" : ", ") + c.app->get_name();
    return list;
}

CLI::App* command_named(const std::vector<Command>& commands, const std::string& name) {
    for (const Command& c : commands)
        if (c.app->get_name() == name) return c.app;
    return nullptr;
}

// "unknown command 'clasify'; did you mean 'classify'?" (or the list of commands).
std::string unknown_command(const std::vector<Command>& commands, const std::string& name) {
    std::vector<std::string> names;
    for (const Command& c : commands) names.push_back(c.app->get_name());
    const std::string near = nearest_word(name, names);
    return "unknown command '" + name + "'; " +
           (near.empty() ? "the commands are " + command_list(commands) : "did you mean '" + near + "'?") +
           " (see sparsifiner --help)";
}

// The flags of `command` that the user typed but it does not have, each with the nearest one
// it does have. Empty when every flag exists (the parse error was something else).
std::string unknown_flags(CLI::App* command, const std::vector<std::string>& args) {
    std::vector<std::string> names;
    for (const CLI::Option* option : command->get_options()) {
        for (const std::string& l : option->get_lnames()) names.push_back("--" + l);
        for (const std::string& s : option->get_snames()) names.push_back("-" + s);
    }
    std::string message;
    for (const std::string& arg : args) {
        if (arg.size() < 2 || arg[0] != '-' || arg == "--") continue;
        if (arg[1] != '-' && (std::isdigit((unsigned char)arg[1]) || arg[1] == '.')) continue;  // a negative number
        const std::string name = arg.substr(0, arg.find('='));
        if (command->get_option_no_throw(name) != nullptr) continue;
        const std::string near = nearest_word(name, names);
        message += std::string(message.empty() ? "" : "; ") + command->get_name() + ": unknown option '" + name + "'" +
                   (near.empty() ? "" : "; did you mean '" + near + "'?");
    }
    return message;
}

}  // namespace

int main(int argc, char** argv) {
    ensure_passive_openmp_waiting(argv);

    CLI::App app{"sparsifiner: DeiT and Sparsifiner Vision Transformers on the CPU, with per-layer MACs, sparsity "
                 "and latency.\nsparsifiner help COMMAND (or COMMAND --help) shows a command's options."};
    app.name("sparsifiner");
    app.set_version_flag("--version", std::string("sparsifiner ") + SPARSIFINER_VERSION + " (" +
                                          SPARSIFINER_GIT_COMMIT + ", " + SPARSIFINER_BUILD_FLAVOUR + " build)");
    app.require_subcommand(1);
    // Every option's default shows in --help (subcommands inherit this).
    app.option_defaults()->always_capture_default();
    std::vector<Command> commands = {classify_command(app), info_command(app),  bench_command(app),
                                     profile_command(app),  sweep_command(app), merge_command(app),
                                     visualize_command(app), compare_command(app)};

    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        report_error("a command is required: " + command_list(commands) + " (see sparsifiner --help)");
        return kExitUsage;
    }
    // `help` and `help COMMAND` are --help and COMMAND --help.
    if (args[0] == "help") {
        if (args.size() > 1 && command_named(commands, args[1]) == nullptr) {
            report_error(unknown_command(commands, args[1]));
            return kExitUsage;
        }
        args = args.size() > 1 ? std::vector<std::string>{args[1], "--help"} : std::vector<std::string>{"--help"};
    } else if (args[0][0] != '-' && command_named(commands, args[0]) == nullptr) {
        report_error(unknown_command(commands, args[0]));
        return kExitUsage;
    } else if (args[0][0] == '-' && args[0] != "--help" && args[0] != "-h" && args[0] != "--version") {
        report_error("unknown option '" + args[0] + "' before the command; the commands are " + command_list(commands) +
                     " (see sparsifiner --help)");
        return kExitUsage;
    }

    try {
        std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses a reversed vector
        app.parse(reversed);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        CLI::App* command = command_named(commands, args[0]);
        const std::string unknown = command != nullptr ? unknown_flags(command, args) : "";
        report_error((unknown.empty() ? std::string(e.what()) : unknown) + " (see sparsifiner help " + args[0] + ")");
        return kExitUsage;
    }

    try {
        for (const Command& command : commands) {
            if (!command.app->parsed()) continue;
            const int code = command.run();
            // Results that never reached stdout (a full disk, /dev/full) are not a success.
            output_finish_stdout();
            return code;
        }
    } catch (const CommandError& e) {
        report_error(e.what());
        return e.code;
    } catch (const std::bad_alloc&) {
        report_error("out of memory");
        return kExitRuntimeError;
    } catch (const dnnl::error& e) {
        report_error(std::string("oneDNN: ") + e.what());
        return kExitRuntimeError;
    } catch (const std::exception& e) {
        report_error(e.what());
        return kExitRuntimeError;
    }
    return kExitUsage;
}
