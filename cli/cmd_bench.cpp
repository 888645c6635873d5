// sparsifiner bench: forward-pass latency over batch sizes and thread counts, with our GFLOP/s
// (2 x MACs per second)
// beside a large oneDNN matmul timed in the same run. bench/compare.py adds the peers.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/model_open.h"
#include "cli/progress.h"
#include "cli/report_table.h"
#include "core/model/deit_model.h"
#include "core/model/forward_stats.h"
#include "core/model/macs.h"
#include "core/kernels/matmul_peak.h"
#include "core/platform/threading.h"
#include "core/platform/timing.h"

namespace sparsifiner {

namespace {

struct BenchFlags {
    ModelFlags model;
    AttentionFlags attention;
    RunFlags run;  // --format and progress; --threads is a list here
    std::string batches = "1,8";
    std::string threads = "1";
    int runs = 30;
    int warmup = 5;
    bool no_peak = false;
};

constexpr int kBenchSchemaVersion = 2;  // 2: one `machine` object; p95, p99, stddev, images/s

// One (batch, threads) configuration: its samples and what follows from them.
struct BenchConfig {
    int batch = 0, threads = 0;
    Dtype dtype = Dtype::f32;
    std::string setting;           // the attention setting's short name (mask, keep rate, pruning)
    nlohmann::json attention;      // its plan
    double macs_per_image = 0;     // what this setting really computes (the stats pass)
    double speedup = 1;            // median of the first setting of this (batch, threads, dtype) / median
    std::vector<double> samples_ms;
    double median = 0, p90 = 0, p95 = 0, p99 = 0, min = 0, mean = 0, stddev = 0;
    double images_per_second = 0, gflops = 0, peak_gflops = 0, peak_fraction = 0;
    nlohmann::json linear_impls = nlohmann::json::array();  // [{layer, rows, impl}] every Linear
    bool linear_reference = false;  // some Linear runs oneDNN's reference code
    std::string linear_impl_text;   // each distinct implementation once, for the table

    void summarise(double macs_per_image) {
        median = quantile(samples_ms, 0.5), p90 = quantile(samples_ms, 0.9);
        p95 = quantile(samples_ms, 0.95), p99 = quantile(samples_ms, 0.99), min = quantile(samples_ms, 0);
        double sum = 0, squares = 0;
        for (double v : samples_ms) sum += v;
        mean = sum / samples_ms.size();
        for (double v : samples_ms) squares += (v - mean) * (v - mean);
        stddev = samples_ms.size() > 1 ? std::sqrt(squares / (samples_ms.size() - 1)) : 0;  // sample std dev
        images_per_second = batch / (median / 1e3);
        // GFLOP/s counts 2 floating-point operations per MAC.
        gflops = 2.0 * macs_per_image * batch / (median / 1e3) / 1e9;
        peak_fraction = peak_gflops > 0 ? gflops / peak_gflops : 0;
    }
};

// Everything bench reports; every --format is rendered from this.
struct BenchReport {
    nlohmann::json model, attention, peaks = nlohmann::json::object();
    std::vector<std::string> dtypes;  // in the order they ran
    std::vector<std::string> settings;  // attention settings, in the order they ran
    int runs = 0, warmup = 0;
    std::vector<BenchConfig> configs;

    nlohmann::json to_json() const {
        nlohmann::json document = json_document("bench", kBenchSchemaVersion);
        document["machine"] = machine_identity();
        document["model"] = model;
        document["attention"] = attention;
        document["timed"] = "DeitModel::forward only: the input tensor is prepared once; model loading, image "
                            "decoding and preprocessing are excluded";
        document["runs"] = runs;
        document["warmup"] = warmup;
        document["matmul_peak"] = peaks;
        document["dtypes"] = dtypes;
        document["settings"] = settings;
        document["configs"] = nlohmann::json::array();
        for (const BenchConfig& c : configs)
            document["configs"].push_back(
                {{"batch", c.batch}, {"threads", c.threads}, {"dtype", dtype_name(c.dtype)}, {"median_ms", c.median}, {"p90_ms", c.p90},
                 {"p95_ms", c.p95}, {"p99_ms", c.p99}, {"min_ms", c.min}, {"mean_ms", c.mean},
                 {"stddev_ms", c.stddev}, {"samples_ms", c.samples_ms}, {"images_per_second", c.images_per_second},
                 {"gflops", c.gflops}, {"peak_gflops", c.peak_gflops}, {"peak_fraction", c.peak_fraction},
                 {"linear_impls", c.linear_impls}, {"linear_reference", c.linear_reference},
                 {"setting", c.setting}, {"attention", c.attention}, {"macs_per_image", c.macs_per_image},
                 {"speedup", c.speedup}});
        return document;
    }

    Table table() const {
        Table t;
        t.title = "forward pass latency over " + std::to_string(runs) + " runs (after " + std::to_string(warmup) +
                  " warm-up); GFLOP/s = 2 x MACs / s";
        const bool several = settings.size() > 1;
        t.columns = {"batch", "threads", "dtype"};
        if (several) t.columns.insert(t.columns.end(), {"attention", "GMACs", "speed"});
        t.columns.insert(t.columns.end(), {"median ms", "p90 ms", "p95 ms", "p99 ms", "stddev ms", "images/s", "GFLOP/s",
                                           "of peak", "oneDNN Linear implementations"});
        for (const BenchConfig& c : configs) {
            std::vector<std::string> row = {cell((long long)c.batch), cell((long long)c.threads), dtype_name(c.dtype)};
            if (several)
                row.insert(row.end(), {c.setting, cell(c.macs_per_image / 1e9, 2), cell(c.speedup, 2) + "x"});
            row.insert(row.end(), {cell(c.median, 3), cell(c.p90, 3), cell(c.p95, 3), cell(c.p99, 3), cell(c.stddev, 3),
                                   cell(c.images_per_second, 1), cell(c.gflops, 1),
                                   c.peak_gflops > 0 ? cell(100 * c.peak_fraction, 0) + "%" : "-", c.linear_impl_text});
            t.add(row);
        }
        if (several)
            t.notes.push_back("speed: the first setting's median / this one's, same batch, threads and dtype (runs "
                              "of the settings interleaved, so machine noise hits them alike); GMACs: what the "
                              "setting computes per image, GFLOP/s: 2 x dense MACs / s as for dense");
        for (const auto& [threads, peak] : peaks.items())
            t.notes.push_back("in-run oneDNN f32 matmul " + std::to_string(peak["size"].get<int>()) + "^3 with " +
                              threads + " thread(s): " + cell(peak["median_gflops"].get<double>(), 1) +
                              " GFLOP/s (median)");
        return t;
    }
};

// "dense", "learned 0.25", "learned 0.25, prune 3,6,9 at 0.7" (one keep rate shown when all
// blocks share it).
std::string setting_name(const AttentionPlan& plan) {
    std::string name = mask_source_name(plan.mask);
    char text[64];
    if (plan.mask != MaskSource::dense && !plan.keep_rate.empty()) {
        const bool uniform = std::all_of(plan.keep_rate.begin(), plan.keep_rate.end(),
                                         [&](float r) { return r == plan.keep_rate[0]; });
        std::snprintf(text, sizeof text, " %.3g", plan.keep_rate[0]);
        name += uniform ? text : " per block";
    }
    if (!plan.prune_at.empty()) {
        name += ", prune ";
        for (size_t i = 0; i < plan.prune_at.size(); i++) name += (i ? "," : "") + std::to_string(plan.prune_at[i]);
        std::snprintf(text, sizeof text, " at %.3g", plan.token_keep);
        name += text;
    }
    return name;
}

// One model to time: a dtype and an attention setting.
struct Timed {
    std::unique_ptr<DeitModel> model;
    std::string setting;
};

int bench_run(const BenchFlags& flags) {
    const OutputFormat format = flags.run.output_format();
    const std::vector<int> batches = parse_list<int>(flags.batches, "--batch");
    const std::vector<int> thread_counts = parse_list<int>(flags.threads, "--threads");
    const std::vector<Dtype> dtypes = flags.model.dtypes();
    const std::vector<AttentionFlags> settings = flags.attention.settings();
    // One model per (dtype, setting), built from one read of the weights; all are timed below,
    // their runs interleaved.
    std::vector<Timed> timed;
    DeitConfig config;
    {
        DeitWeights weights = model_load(flags.model);
        for (Dtype dtype : dtypes)
            for (const AttentionFlags& setting : settings) {
                Timed t;
                t.model = model_build(weights, flags.model, setting, dtype);
                t.setting = setting_name(t.model->attention_plan());
                timed.push_back(std::move(t));
            }
        config = weights.config;
    }
    const double macs_per_image = deit_dense_macs(config, timed[0].model->img_size()).total();
    const int S = timed[0].model->img_size(), C = timed[0].model->num_classes();

    int max_batch = 1;
    for (int b : batches) max_batch = std::max(max_batch, b);
    // A fixed pseudo-random input: the work does not depend on the pixel values (but for learned
    // masks and pruning, which keys and tokens are kept; their counts do not change).
    std::vector<float> images((size_t)max_batch * config.in_chans * S * S), logits((size_t)max_batch * C);
    std::mt19937 rng(0);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : images) v = normal(rng);

    BenchReport report;
    report.runs = flags.runs, report.warmup = flags.warmup;
    Progress progress(flags.run, "bench", "runs",
                      (long)thread_counts.size() * batches.size() * timed.size() * (flags.runs + flags.warmup));
    long done = 0;
    for (int threads : thread_counts) {
        threads_set(threads);
        MatmulPeak peak;
        if (!flags.no_peak) {
            peak = matmul_peak_measure();
            report.peaks[std::to_string(threads)] = {{"size", peak.size}, {"median_gflops", peak.median_gflops},
                                                     {"best_gflops", peak.best_gflops}};
        }
        for (int B : batches) {
            std::vector<BenchConfig> configs(timed.size());
            for (size_t m = 0; m < timed.size(); m++) {
                DeitModel& model = *timed[m].model;
                BenchConfig& c = configs[m];
                c.batch = B, c.threads = threads, c.dtype = model.dtype(), c.peak_gflops = peak.median_gflops;
                c.setting = timed[m].setting;
                c.attention = attention_plan_json(model.attention_plan());
                // One untimed pass that records the row count every Linear runs at and the MACs
                // (it also creates the oneDNN plans, so the warm-up and the timed runs allocate
                // nothing).
                ForwardStats pass_stats;
                ForwardObserver observer;
                observer.stats = &pass_stats;
                model.forward(images.data(), B, logits.data(), &observer);
                c.macs_per_image = forward_macs(config, pass_stats, S).total();
                std::vector<std::string> distinct;
                for (const auto& linear : model.linear_implementations(pass_stats)) {
                    c.linear_impls.push_back({{"layer", linear.layer}, {"rows", linear.rows}, {"impl", linear.impl}});
                    if (std::find(distinct.begin(), distinct.end(), linear.impl) == distinct.end()) {
                        distinct.push_back(linear.impl);
                        c.linear_impl_text += (c.linear_impl_text.empty() ? "" : ", ") + linear.impl;
                    }
                    c.linear_reference = c.linear_reference || linear.impl.find("ref") != std::string::npos;
                }
            }
            // Round robin: run i of every model before run i + 1 of any, so that a slow spell of
            // the machine lands on all of them alike.
            for (int i = 0; i < flags.warmup; i++)
                for (Timed& t : timed) {
                    t.model->forward(images.data(), B, logits.data());
                    progress.update(++done);
                }
            for (int i = 0; i < flags.runs; i++)
                for (size_t m = 0; m < timed.size(); m++) {
                    const double start = seconds_now();
                    timed[m].model->forward(images.data(), B, logits.data());
                    configs[m].samples_ms.push_back((seconds_now() - start) * 1e3);
                    progress.update(++done);
                }
            for (size_t m = 0; m < timed.size(); m++) {
                configs[m].summarise(macs_per_image);
                // Relative to the first setting of the same dtype.
                const size_t first = m - m % settings.size();
                configs[m].speedup = configs[first].median / configs[m].median;
                report.configs.push_back(configs[m]);
            }
        }
    }
    progress.finish();
    report.model = {{"file", flags.model.path}, {"arch", config.arch}, {"img_size", S},
                    {"dense_macs_per_image", macs_per_image}};
    report.attention = attention_plan_json(timed[0].model->attention_plan());
    for (Dtype dtype : dtypes) report.dtypes.push_back(dtype_name(dtype));
    for (size_t m = 0; m < settings.size(); m++) report.settings.push_back(timed[m].setting);
    if (format == OutputFormat::json) std::printf("%s\n", json_text(report.to_json()).c_str());
    else table_print(report.table(), format);
    return kExitOk;
}

}  // namespace

Command bench_command(CLI::App& app) {
    auto flags = std::make_shared<BenchFlags>();
    CLI::App* command = app.add_subcommand(
        "bench", "Time the forward pass over batch sizes and thread counts (median, p90-p99, stddev of --runs)");
    flags->model.add_to(*command, false, true);
    flags->attention.add_to(*command, true);
    command->add_option("--batch", flags->batches, "Comma-separated batch sizes");
    command->add_option("--threads", flags->threads, "Comma-separated thread counts");
    command->add_option("--runs", flags->runs, "Timed runs per configuration")->check(CLI::Range(1, 100000));
    command->add_option("--warmup", flags->warmup, "Untimed runs first")->check(CLI::Range(0, 100000));
    command->add_flag("--no-peak", flags->no_peak, "Skip timing the reference matmul");
    flags->run.add_to(*command, RunFlags::kFormat | RunFlags::kProgress);
    return {command, [flags] {
                flags->model.use_default_if_absent();
                return bench_run(*flags);
            }};
}

}  // namespace sparsifiner
