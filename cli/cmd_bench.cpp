// sparsifiner bench: forward-pass latency over batch sizes and thread counts, with our GFLOP/s
// beside a large oneDNN matmul timed in the same run. bench/compare.py adds the peers.
#include <cstdio>
#include <memory>
#include <random>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/model_open.h"
#include "core/deit_model.h"
#include "core/macs.h"
#include "core/matmul_peak.h"
#include "core/threading.h"
#include "core/timing.h"

namespace sparsifiner {

namespace {

struct BenchFlags {
    ModelFlags model;
    AttentionFlags attention;
    std::string batches = "1,8";
    std::string threads = "1";
    int runs = 30;
    int warmup = 5;
    bool json = false;
    bool no_peak = false;
};

int bench_run(const BenchFlags& flags) {
    const std::vector<int> batches = parse_list<int>(flags.batches, "--batch");
    const std::vector<int> thread_counts = parse_list<int>(flags.threads, "--threads");
    DeitWeights weights = model_load(flags.model);
    std::unique_ptr<DeitModel> built = model_build(weights, flags.model, flags.attention);
    DeitModel& model = *built;
    const DeitConfig config = weights.config;
    weights = DeitWeights();
    const double macs_per_image = deit_dense_macs(config, model.img_size()).total();
    const int S = model.img_size(), C = model.num_classes();

    int max_batch = 1;
    for (int b : batches) max_batch = std::max(max_batch, b);
    // A fixed pseudo-random input: the work does not depend on the pixel values.
    std::vector<float> images((size_t)max_batch * config.in_chans * S * S), logits((size_t)max_batch * C);
    std::mt19937 rng(0);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : images) v = normal(rng);

    nlohmann::json configs = nlohmann::json::array(), peaks = nlohmann::json::object();
    if (!flags.json)
        std::printf("%6s %7s %10s %10s %10s %9s  %s\n", "batch", "threads", "median ms", "p90 ms", "GFLOP/s",
                    "of peak", "oneDNN matmul impl");
    for (int threads : thread_counts) {
        threads_set(threads);
        MatmulPeak peak;
        if (!flags.no_peak) {
            peak = matmul_peak_measure();
            peaks[std::to_string(threads)] = {{"size", peak.size}, {"median_gflops", peak.median_gflops},
                                              {"best_gflops", peak.best_gflops}};
        }
        for (int B : batches) {
            for (int i = 0; i < flags.warmup; i++) model.forward(images.data(), B, logits.data());
            std::vector<double> samples_ms;
            for (int i = 0; i < flags.runs; i++) {
                double start = seconds_now();
                model.forward(images.data(), B, logits.data());
                samples_ms.push_back((seconds_now() - start) * 1e3);
            }
            const double median = quantile(samples_ms, 0.5), p90 = quantile(samples_ms, 0.9);
            const double gflops = 2.0 * macs_per_image * B / (median / 1e3) / 1e9;
            const double fraction = peak.median_gflops > 0 ? gflops / peak.median_gflops : 0;
            const std::string impl = model.linear_implementation(B);
            configs.push_back({{"batch", B}, {"threads", threads}, {"median_ms", median}, {"p90_ms", p90},
                               {"min_ms", quantile(samples_ms, 0)}, {"samples_ms", samples_ms},
                               {"gflops", gflops}, {"peak_gflops", peak.median_gflops},
                               {"peak_fraction", fraction}, {"linear_impl", impl}});
            if (!flags.json) {
                char of_peak[16] = "        -";  // --no-peak: nothing to compare with
                if (peak.median_gflops > 0) std::snprintf(of_peak, sizeof of_peak, "%8.0f%%", 100 * fraction);
                std::printf("%6d %7d %10.2f %10.2f %10.1f %s  %s\n", B, threads, median, p90, gflops, of_peak,
                            impl.c_str());
                std::fflush(stdout);
            }
        }
        if (!flags.json && !flags.no_peak)
            std::printf("        in-run oneDNN f32 matmul %d^3 with %d thread(s): %.1f GFLOP/s (median)\n", peak.size,
                        threads, peak.median_gflops);
    }
    if (flags.json) {
        nlohmann::json document = {
            {"schema_version", kJsonSchemaVersion},
            {"command", "bench"},
            {"tool", tool_identity()},
            {"machine", machine_identity()},
            {"cpu", machine_identity()["cpu"]},
            {"isa", machine_identity()["dnnl_isa"]},
            {"build", tool_identity()["build"]},
            {"model", {{"file", flags.model.path}, {"arch", config.arch}, {"img_size", S},
                       {"dense_macs_per_image", macs_per_image}}},
            {"attention", attention_plan_json(model.attention_plan())},
            {"timed", "DeitModel::forward only: the input tensor is prepared once; model loading, image "
                      "decoding and preprocessing are excluded"},
            {"runs", flags.runs},
            {"warmup", flags.warmup},
            {"matmul_peak", peaks},
            {"matmul_peak_gflops", peaks.empty() ? nlohmann::json(nullptr) : peaks.begin().value()["median_gflops"]},
            {"configs", configs}};
        std::printf("%s\n", document.dump(2).c_str());
    }
    return kExitOk;
}

}  // namespace

Command bench_command(CLI::App& app) {
    auto flags = std::make_shared<BenchFlags>();
    CLI::App* command = app.add_subcommand(
        "bench", "Time the forward pass over batch sizes and thread counts (median and p90 of --runs)");
    flags->model.add_to(*command, false);
    flags->attention.add_to(*command);
    command->add_option("--batch", flags->batches, "Comma-separated batch sizes");
    command->add_option("--threads", flags->threads, "Comma-separated thread counts");
    command->add_option("--runs", flags->runs, "Timed runs per configuration")->check(CLI::Range(1, 100000));
    command->add_option("--warmup", flags->warmup, "Untimed runs first")->check(CLI::Range(0, 100000));
    command->add_flag("--no-peak", flags->no_peak, "Skip timing the reference matmul");
    command->add_flag("--json", flags->json, "Print one JSON document (every sample included)");
    return {command, [flags] {
                flags->model.use_default_if_absent();
                return bench_run(*flags);
            }};
}

}  // namespace sparsifiner
