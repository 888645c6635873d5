// sparsifiner: run DeiT and Sparsifiner Vision Transformers on the CPU and show where the time
// and the FLOPs go. This file only parses, dispatches and maps failures to exit codes.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <new>

#include <oneapi/dnnl/dnnl.hpp>

#include "build_info.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output_file.h"

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

int main(int argc, char** argv) {
    ensure_passive_openmp_waiting(argv);

    CLI::App app{"sparsifiner: DeiT and Sparsifiner Vision Transformers on the CPU, with per-layer FLOPs and "
                 "latency"};
    app.set_version_flag("--version", std::string("sparsifiner ") + SPARSIFINER_VERSION + " (" +
                                          SPARSIFINER_GIT_COMMIT + ", " + SPARSIFINER_BUILD_FLAVOUR + " build)");
    app.require_subcommand(1);
    std::vector<Command> commands = {classify_command(app), info_command(app), bench_command(app), profile_command(app)};
    commands.push_back(sweep_command(app));
    commands.push_back(merge_command(app));
    commands.push_back(visualize_command(app));

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        report_error(std::string(e.what()) + " (see --help)");
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
