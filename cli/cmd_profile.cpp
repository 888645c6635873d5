// sparsifiner profile: where the time and the MACs go, per block and per op, for a model file or
// a geometry with random weights. Per-op timings come from runs with op timers; the end-to-end
// latency from interleaved runs without them, and the difference is reported as the timers' cost.
// Per-image statistics (tokens alive, density and, with --fidelity, the attention fidelity) come
// from one more untimed pass over every input image.
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <cstdio>
#include <memory>
#include <random>

#include "cli/attention_probe.h"
#include "cli/commands.h"
#include "cli/output_file.h"
#include "cli/forward_dump.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/model_open.h"
#include "cli/profile_roofline.h"
#include "cli/profile_trace.h"
#include "cli/progress.h"
#include "cli/report_table.h"
#include "cli/image_inputs.h"
#include "core/model/deit_model.h"
#include "core/model/macs.h"
#include "core/model/op_work.h"
#include "core/model/roofline.h"
#include "core/platform/threading.h"
#include "core/platform/timing.h"
#include "weights/random_weights.h"

namespace sparsifiner {

namespace {

struct ProfileFlags {
    ModelFlags model;
    AttentionFlags attention;
    std::vector<std::string> images;
    std::string arch;
    bool distilled = false, sparsifiner = false, random_weights = false;
    uint64_t seed = 0;
    int batch = 1, repeat = 20, warmup = 3;
    float crop_pct = 0;  // 0 = the model's
    RunFlags run;
    std::string dump_masks;
    std::string trace;  // --trace FILE.json
    bool fidelity = false;
};

// The timers may add this much to the end-to-end median (issue 5) before profile warns.
constexpr double kOpTimerOverheadLimit = 0.05;
constexpr int kTopSingularValues = 32;

constexpr int kBlockOps = (int)BlockOp::count;
constexpr int kModelOps = (int)ModelOp::count;
constexpr int kSubOps = (int)SubOp::count;

DeitWeights profile_weights(const ProfileFlags& flags) {
    if (!flags.random_weights) {
        return model_load(flags.model);
    }
    if (!flags.model.path.empty()) throw CommandError(kExitUsage, "-m and --random-weights exclude each other");
    if (flags.arch.empty()) throw CommandError(kExitUsage, "--random-weights needs --arch deit_tiny|deit_small|deit_base");
    try {
        const int size = flags.model.img_size > 0 ? flags.model.img_size : 224;
        return deit_weights_random(deit_config_for_arch(flags.arch, size, flags.distilled, flags.sparsifiner),
                                   flags.seed);
    } catch (const WeightFileError& e) {
        throw CommandError(kExitUsage, e.what());
    }
}

// Every input image once: the given images, or a seeded random tensor of `batch` images.
std::vector<float> profile_images(const ProfileFlags& flags, const DeitConfig& config, int S) {
    const size_t image_floats = (size_t)config.in_chans * S * S;
    if (flags.images.empty()) {
        std::vector<float> input(image_floats * flags.batch);
        std::mt19937 rng(0);
        std::normal_distribution<float> normal(0.f, 1.f);
        for (float& v : input) v = normal(rng);
        return input;
    }
    std::vector<std::string> paths = image_paths_expand(flags.images);
    if (paths.empty()) throw CommandError(kExitUsage, "no images found");
    std::vector<float> input(image_floats * paths.size());
    std::vector<std::string> errors = images_prepare(paths, S, preprocess_for(config, flags.crop_pct), input.data());
    for (const std::string& error : errors)
        if (!error.empty()) throw CommandError(kExitSomeInputsFailed, error);
    return input;
}

// The timed batch: the input images cycled to fill it.
std::vector<float> profile_batch(const std::vector<float>& images, size_t image_floats, int B) {
    const size_t count = images.size() / image_floats;
    std::vector<float> input(image_floats * B);
    for (int b = 0; b < B; b++)
        std::copy(images.begin() + (b % count) * image_floats, images.begin() + (b % count + 1) * image_floats,
                  input.begin() + b * image_floats);
    return input;
}

struct Samples {
    std::vector<std::array<std::vector<double>, kBlockOps>> block;  // [depth][op] seconds per run
    std::vector<std::array<std::vector<double>, kSubOps>> sub;      // [depth][sub-op] seconds per run
    std::array<std::vector<double>, kModelOps> model;
    std::vector<double> timed_total, untimed_total;
};

double ms(double seconds) { return seconds * 1e3; }

// What a block's op needs to be rated against the roofline (cli/profile_roofline.h).
struct BlockWork {
    const Roofline& roofline;
    const DeitConfig& config;
    const BlockStats& stats;
    const BlockMacs& macs;
    int B;
};

// The parts of `parent` (mask or attention) that a block running `mask` has, with their latency
// and efficiency, and how much of the parent they leave out run by run; null when it has none.
nlohmann::json sub_ops_json(const Samples& samples, int block, BlockOp parent, const BlockWork& work,
                            double timed_median, std::vector<std::pair<SubOp, OpEfficiency>>* efficiency) {
    const MaskSource mask = work.stats.mask;
    nlohmann::json parts = nlohmann::json::object();
    std::vector<double> unattributed = samples.block[block][(int)parent];
    for (int sub = 0; sub < kSubOps; sub++) {
        if (sub_op_parent((SubOp)sub) != parent || !sub_op_applies((SubOp)sub, mask)) continue;
        const std::vector<double>& runs = samples.sub[block][sub];
        for (size_t r = 0; r < runs.size(); r++) unattributed[r] -= runs[r];
        const double median = quantile(runs, 0.5);
        const OpWork op_work = sub_op_work((SubOp)sub, work.config, work.stats, work.macs, work.B);
        const OpEfficiency rated = op_efficiency(work.roofline, op_work, median);
        efficiency->push_back({(SubOp)sub, rated});
        parts[sub_op_name((SubOp)sub)] = {{"median_ms", ms(median)},
                                          {"p90_ms", ms(quantile(runs, 0.9))},
                                          {"share", median / timed_median},
                                          {"efficiency", rated.to_json()}};
    }
    if (parts.empty()) return nullptr;
    return {{"sub_ops", parts},
            {"sub_op_timing", mask == MaskSource::learned && parent == BlockOp::mask ? "apportioned" : "wall"},
            {"unattributed_ms", ms(quantile(unattributed, 0.5))}};
}

// One timed op of one block (mask or attention) with its parts, for the text table.
struct OpPartsRow {
    int block;
    BlockOp op;
    double median_ms, p90_ms, share;
    const char* note;  // what ran, when one kernel did the whole op
    struct Part {
        SubOp op;
        double median_ms, p90_ms, share;
    };
    std::vector<Part> parts;  // in the order of the computation
};

// Mask and attention of every block with their parts indented beneath.
void sub_ops_table(const std::vector<OpPartsRow>& rows) {
    std::printf("mask and attention by part: median and p90 (ms), share of the pass with op timers; the learned "
                "predictor's phases are apportioned by thread time (see cli/JSON_SCHEMAS.md)\n");
    std::printf("%5s   %-14s %9s %9s %7s\n", "block", "op", "median", "p90", "share");
    for (const OpPartsRow& row : rows) {
        std::printf("%5d   %-14s %9.3f %9.3f %6.1f%%%s\n", row.block, block_op_name(row.op), row.median_ms, row.p90_ms,
                    100 * row.share, row.note);
        for (const OpPartsRow::Part& part : row.parts)
            std::printf("%5s     %-12s %9.3f %9.3f %6.1f%%\n", "", sub_op_name(part.op), part.median_ms, part.p90_ms,
                        100 * part.share);
    }
}

// The row of `op` (mask or attention) of block i, with the parts sub_ops_json found.
OpPartsRow op_parts_row(int block, BlockOp op, const Samples& samples, double timed_median, const BlockStats& s) {
    const std::vector<double>& runs = samples.block[block][(int)op];
    OpPartsRow row{block, op, ms(quantile(runs, 0.5)), ms(quantile(runs, 0.9)), quantile(runs, 0.5) / timed_median, "", {}};
    if (op == BlockOp::attention && (s.mask != MaskSource::dense || s.attention_fused))
        row.note = s.mask == MaskSource::dense ? "  fused dense: q k, softmax and p v per query tile"
                                               : "  fused: q k, softmax and p v per query row";
    if (op == BlockOp::attention && s.attention_fused) return row;  // one kernel: no parts
    for (int sub = 0; sub < kSubOps; sub++) {
        if (sub_op_parent((SubOp)sub) != op || !sub_op_applies((SubOp)sub, s.mask)) continue;
        const std::vector<double>& part = samples.sub[block][sub];
        row.parts.push_back({(SubOp)sub, ms(quantile(part, 0.5)), ms(quantile(part, 0.9)),
                             quantile(part, 0.5) / timed_median});
    }
    return row;
}

// Per block, over heads (and images): kept mass, output error, and the tail of the spectra, from
// the probe's summaries.
void fidelity_table(const std::vector<LayerSummary>& layers, int images) {
    std::printf("fidelity over %d image(s), from dense attention (untimed); kept mass of the non-cls rows; "
                "sigma_last = the smallest reported singular value, mean over heads\n", images);
    std::printf("%5s %9s %9s %10s %10s %12s %12s %12s\n", "block", "kept", "kept_min", "rel_err", "rel_err_max",
                "sigma_dense", "sigma_sparse", "sigma_lowrank");
    for (size_t block = 0; block < layers.size(); block++) {
        const std::vector<HeadSummary>& heads = layers[block].heads;
        double kept = 0, kept_min = 1, err = 0, err_max = 0, tail[3] = {0, 0, 0};
        bool low_rank = true;
        for (const HeadSummary& head : heads) {
            kept += head.kept_mass.mean() / heads.size();
            kept_min = std::min(kept_min, head.kept_mass.min);
            err += head.output_rel_error.mean() / heads.size();
            err_max = std::max(err_max, head.output_rel_error.max);
            // The smallest reported singular value of each spectrum, averaged over the images.
            const std::vector<double>* sums[3] = {&head.dense_singular, &head.sparse_singular, &head.low_rank_singular};
            const long counts[3] = {head.spectra, head.spectra, head.low_rank_spectra};
            for (int s = 0; s < 3; s++) {
                if (counts[s] == 0 || sums[s]->empty()) {
                    low_rank = low_rank && s != 2;
                    continue;
                }
                tail[s] += sums[s]->back() / counts[s] / heads.size();
            }
        }
        char low_rank_text[32] = "-";
        if (low_rank) std::snprintf(low_rank_text, sizeof low_rank_text, "%.3g", tail[2]);
        std::printf("%5d %9.4f %9.4f %10.4f %10.4f %12.3g %12.3g %12s\n", (int)block, kept, kept_min, err, err_max,
                    tail[0], tail[1], low_rank_text);
    }
}

// The trace of the last timed pass (the op timers' durations of one run).
// Written whole or not at all (cli/output_file.h).
void trace_write(const std::string& path, const nlohmann::json& trace) {
    try {
        output_file_write(path, trace.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    } catch (const OutputError& e) {
        throw CommandError(kExitRuntimeError, e.what());
    }
}

// One row of the per-block table: the text, CSV and Markdown forms are printed from these.
struct ProfileBlockRow {
    int block, tokens, kept_keys;
    double density, gmacs, total_ms;
    double op_ms[kBlockOps];
};

Table profile_block_table(const std::vector<ProfileBlockRow>& rows, const std::string& title) {
    Table t;
    t.title = title;
    t.columns = {"block", "tokens", "k", "density", "GMACs"};
    for (int op = 0; op < kBlockOps; op++) t.columns.push_back(std::string(block_op_name((BlockOp)op)) + " ms");
    t.columns.push_back("total ms");
    for (const ProfileBlockRow& r : rows) {
        std::vector<std::string> row = {cell((long long)r.block), cell((long long)r.tokens), cell((long long)r.kept_keys),
                                        cell(r.density, 3), cell(r.gmacs, 4)};
        for (int op = 0; op < kBlockOps; op++) row.push_back(cell(r.op_ms[op], 3));
        row.push_back(cell(r.total_ms, 3));
        t.add(row);
    }
    return t;
}

int profile_run(const ProfileFlags& flags) {
    const OutputFormat format = flags.run.output_format();
    // Output paths fail now, not after the run.
    if (!flags.trace.empty()) output_path_check(flags.trace);
    if (!flags.dump_masks.empty()) output_folder_check(flags.dump_masks);
    threads_apply(flags.run.threads);
    flags.model.dtypes();  // a refused bf16 fails before the weights are read or made
    DeitWeights weights = profile_weights(flags);
    std::unique_ptr<DeitModel> built = model_build(weights, flags.model, flags.attention);
    DeitModel& model = *built;
    const DeitConfig config = weights.config;
    // The predictor's coef basis (its low-rank connectivity), for the fidelity's spectra.
    std::vector<PredictorLowRank> low_rank;
    if (flags.fidelity && model.attention_plan().mask == MaskSource::learned)
        for (int i = 0; i < config.depth; i++) low_rank.emplace_back(weights.blocks[i], config);
    weights = DeitWeights();
    const int S = model.img_size(), B = flags.batch, depth = config.depth;
    const size_t image_floats = (size_t)config.in_chans * S * S;
    const std::vector<float> images = profile_images(flags, config, S);
    const int image_count = (int)(images.size() / image_floats);
    const std::vector<float> input = profile_batch(images, image_floats, B);
    std::vector<float> logits((size_t)B * config.num_classes);

    ForwardStats counted, timed;
    timed.timed = true;
    ForwardObserver count_observer, time_observer;
    count_observer.stats = &counted;
    time_observer.stats = &timed;
    // Each repeat is two passes (with and without op timers).
    Progress progress(flags.run, "profile", "passes", flags.warmup + 2L * flags.repeat);
    long passes = 0;
    for (int i = 0; i < flags.warmup; i++) {
        model.forward(input.data(), B, logits.data(), &count_observer);
        progress.update(++passes);
    }

    // Runs with and without op timers alternate so that machine noise hits both alike.
    Samples samples;
    samples.block.resize(depth);
    samples.sub.resize(depth);
    for (int r = 0; r < flags.repeat; r++) {
        double start = seconds_now();
        model.forward(input.data(), B, logits.data());
        samples.untimed_total.push_back(seconds_now() - start);
        model.forward(input.data(), B, logits.data(), &time_observer);
        samples.timed_total.push_back(timed.total_seconds);
        for (int i = 0; i < depth; i++)
            for (int op = 0; op < kBlockOps; op++) samples.block[i][op].push_back(timed.blocks[i].seconds[op]);
        for (int i = 0; i < depth; i++)
            for (int sub = 0; sub < kSubOps; sub++) samples.sub[i][sub].push_back(timed.blocks[i].sub_seconds[sub]);
        for (int op = 0; op < kModelOps; op++) samples.model[op].push_back(timed.seconds[op]);
        passes += 2;
        progress.update(passes);
    }
    progress.finish();
    if (!flags.trace.empty()) trace_write(flags.trace, profile_trace_json(timed, tool_identity()));
    model.forward(input.data(), B, logits.data(), &count_observer);
    // Before the passes below: the fidelity's dense matrices are no part of the model's footprint.
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const double peak_rss_mib = usage.ru_maxrss / 1024.0;
    if (!flags.dump_masks.empty()) {
        ForwardDump dump;
        dump.H = config.num_heads;
        dump.D = config.embed_dim;
        dump.resize(depth);
        ForwardObserver mask_observer = dump.observer(false, true);
        model.forward(input.data(), B, logits.data(), &mask_observer);
        dump.write("", flags.dump_masks, logits, config.num_classes);
    }
    // Untimed, one image at a time: the per-image statistics and, with --fidelity, the dense
    // attention matrices they are compared with.
    AttentionProbe probe(depth, config.num_heads, config.head_dim(),
                         flags.fidelity ? ProbeDepth::fidelity : ProbeDepth::density, &low_rank, kTopSingularValues);
    ForwardObserver probe_observer = probe.observer();
    const double probe_start = seconds_now();
    {
        Progress probing(flags.run, flags.fidelity ? "profile --fidelity" : "profile statistics", "images", image_count);
        for (int i = 0; i < image_count; i++) {
            model.forward(images.data() + (size_t)i * image_floats, 1, logits.data(), &probe_observer);
            probing.update(i + 1);
        }
    }
    if (flags.fidelity)
        std::fprintf(stderr, "profile: fidelity over %d image(s) in %.1f s (untimed; builds dense attention)\n",
                     image_count, seconds_now() - probe_start);

    // The roofline the ops are held against, measured now with the same threads.
    const double roofline_start = seconds_now();
    const Roofline roofline = roofline_measure();
    std::fprintf(stderr, "profile: roofline (FMA peak and memory bandwidth) measured in %.2f s\n",
                 seconds_now() - roofline_start);

    const ForwardMacs actual = forward_macs(config, counted, S);
    const DeitMacs dense = deit_dense_macs(config, S);
    const double untimed_median = quantile(samples.untimed_total, 0.5);
    const double timed_median = quantile(samples.timed_total, 0.5);
    const double timer_overhead = timed_median / untimed_median - 1;
    const bool timer_overhead_exceeded = timer_overhead > kOpTimerOverheadLimit;
    if (timer_overhead_exceeded)
        std::fprintf(stderr,
                     "sparsifiner: warning: the op timers added %.1f%% to the end-to-end median (limit %.0f%%): "
                     "per-op times are inflated\n",
                     100 * timer_overhead, 100 * kOpTimerOverheadLimit);

    nlohmann::json layers = nlohmann::json::array();
    std::vector<ProfileBlockRow> block_rows;
    std::vector<OpPartsRow> parts_rows;
    std::vector<EfficiencyRow> efficiency_rows;  // in the order of the pass: the table's rows
    double sum_of_op_medians = 0, mlp_macs = 0;
    for (int op = 0; op < kModelOps; op++) sum_of_op_medians += quantile(samples.model[op], 0.5);
    for (int i = 0; i < depth; i++) {
        const BlockStats& s = counted.blocks[i];
        const BlockMacs& a = actual.blocks[i];
        const double T = s.tokens_in, k = s.kept_keys;
        const double op_actual[kBlockOps] = {0, a.qkv, a.predictor + a.mask_scores, a.qk + a.pv, a.proj, 0, 0, a.fc1, a.fc2};
        const double op_dense[kBlockOps] = {0, dense.block.qkv, 0, dense.block.qk + dense.block.pv, dense.block.proj,
                                            0, 0, dense.block.fc1, dense.block.fc2};
        nlohmann::json ops = nlohmann::json::object();
        double layer_ms = 0;
        for (int op = 0; op < kBlockOps; op++) {
            const double median = quantile(samples.block[i][op], 0.5);
            sum_of_op_medians += median;
            layer_ms += ms(median);
            ops[block_op_name((BlockOp)op)] = {{"macs", op_actual[op]},
                                               {"dense_macs", op_dense[op]},
                                               {"median_ms", ms(median)},
                                               {"p90_ms", ms(quantile(samples.block[i][op], 0.9))},
                                               {"share", median / timed_median}};
        }
        ProfileBlockRow row{i, s.tokens_in, s.kept_keys, (T + (T - 1) * k) / (T * T), a.total() / 1e9, layer_ms, {}};
        for (int op = 0; op < kBlockOps; op++) row.op_ms[op] = ms(quantile(samples.block[i][op], 0.5));
        block_rows.push_back(row);
        ops["attention"]["fused"] = s.mask != MaskSource::dense || s.attention_fused;
        ops["attention"]["core"] = s.mask != MaskSource::dense ? "sparse" : s.attention_fused ? "fused" : "onednn";
        const BlockWork work{roofline, config, s, a, B};
        for (BlockOp parent : {BlockOp::mask, BlockOp::attention})
            parts_rows.push_back(op_parts_row(i, parent, samples, timed_median, s));
        std::vector<std::pair<SubOp, OpEfficiency>> part_efficiency[kBlockOps];
        for (BlockOp parent : {BlockOp::mask, BlockOp::attention}) {
            if (parent == BlockOp::attention && s.attention_fused) continue;  // one kernel: no parts
            const nlohmann::json parts =
                sub_ops_json(samples, i, parent, work, timed_median, &part_efficiency[(int)parent]);
            if (!parts.is_null()) ops[block_op_name(parent)].update(parts);
        }
        for (int op = 0; op < kBlockOps; op++) {
            const char* name = block_op_name((BlockOp)op);
            const OpWork op_work = block_op_work((BlockOp)op, config, s, a, B);
            const double median = quantile(samples.block[i][op], 0.5);
            const auto& parts = part_efficiency[op];
            std::vector<OpEfficiency> rated_parts;
            for (const auto& part : parts) rated_parts.push_back(part.second);
            const OpEfficiency rated = parts.empty() ? op_efficiency(roofline, op_work, median)
                                                     : parent_efficiency(op_work, median, rated_parts);
            ops[name]["efficiency"] = rated.to_json();
            efficiency_rows.push_back({name, rated});
            for (const auto& part : parts)
                efficiency_rows.push_back({std::string(name) + "/" + sub_op_name(part.first), part.second});
        }
        mlp_macs += a.fc1 + a.fc2;
        nlohmann::json layer = {
            {"block", i},
            {"mask", mask_source_name(s.mask)},
            {"tokens_in", s.tokens_in},
            {"tokens_out", s.tokens_out},
            {"kept_keys", s.kept_keys},
            // Kept (query, key) pairs over T^2; the cls row is dense. The same for every head
            // and image: every non-cls row keeps exactly k keys (ELL layout).
            {"density", (T + (T - 1) * k) / (T * T)},
            {"macs", {{"total", a.total()}, {"mhsa", a.mhsa()}, {"qkv", a.qkv}, {"predictor", a.predictor},
                      {"mask_scores", a.mask_scores}, {"qk", a.qk}, {"pv", a.pv}, {"proj", a.proj},
                      {"fc1", a.fc1}, {"fc2", a.fc2},
                      {"predictor_products", {{"qc", a.predictor_products.qc}, {"kc", a.predictor_products.kc},
                                              {"kl", a.predictor_products.kl}, {"cheap", a.predictor_products.cheap},
                                              {"coef_basis", a.predictor_products.coef_basis}}}}},
            {"elementwise", {{"layernorm", (s.tokens_in + s.tokens_out) * (double)config.embed_dim},
                             {"softmax", config.num_heads * (T + (T - 1) * k)},
                             {"gelu", s.tokens_out * (double)config.mlp_hidden}}},
            {"ops", ops},
            {"median_ms", layer_ms}};
        const nlohmann::json over_images = probe.layer_json(i);
        layer["over_images"] = {{"images", image_count}, {"tokens_alive", over_images["tokens_alive"]},
                                {"density", over_images["density"]}};
        layer["heads"] = over_images["heads"];
        if (const MaskPredictor* p = model.predictor(i))
            layer["predictor"] = {{"basis_density", (double)p->basis_nnz() / ((double)p->compressed() * p->tokens())},
                                  {"coef_density", (double)config.basis_coef_topk / p->compressed()}};
        layers.push_back(layer);
    }

    const double total = actual.total(), mhsa = actual.mhsa();
    nlohmann::json totals = {
        {"macs", {{"unit", "macs per image"}, {"total", total}, {"mhsa", mhsa}, {"mlp", mlp_macs},
                  {"other", total - mhsa - mlp_macs}, {"dense_total", dense.total()},
                  {"dense_mhsa", dense.attention_products()},
                  {"layernorm_elements", actual.layernorm_elements},
                  {"total_with_layernorm", actual.total_with_layernorm()},
                  {"dense_total_with_layernorm", dense.total_with_layernorm()}}},
        {"latency_ms", {{"median", ms(untimed_median)}, {"p90", ms(quantile(samples.untimed_total, 0.9))},
                        {"with_op_timers_median", ms(timed_median)},
                        {"op_timer_overhead", timer_overhead},
                        {"op_timer_overhead_limit", kOpTimerOverheadLimit},
                        {"op_timer_overhead_exceeded", timer_overhead_exceeded},
                        {"sum_of_op_medians", ms(sum_of_op_medians)}}},
        {"images_per_second", B / untimed_median},
        {"peak_rss_mib", peak_rss_mib}};

    nlohmann::json model_ops[kModelOps];
    OpEfficiency model_efficiency[kModelOps];
    for (int op = 0; op < kModelOps; op++) {
        const double median = quantile(samples.model[op], 0.5);
        model_efficiency[op] = op_efficiency(
            roofline, model_op_work((ModelOp)op, config, actual, counted.blocks[0].tokens_in, B), median);
        model_ops[op] = {{"macs", op == (int)ModelOp::patch_embed ? actual.patch_embed : actual.head},
                         {"median_ms", ms(median)},
                         {"efficiency", model_efficiency[op].to_json()}};
    }
    // The table's rows in the order of the pass: patch embedding, the blocks' ops, the head.
    efficiency_rows.insert(efficiency_rows.begin(), {"patch_embed", model_efficiency[(int)ModelOp::patch_embed]});
    efficiency_rows.push_back({"head", model_efficiency[(int)ModelOp::head]});

    if (format == OutputFormat::json) {
        nlohmann::json document = json_document("profile");
        document.update({
            {"machine", machine_identity()},
            {"dtype", dtype_name(model.dtype())},
            {"model", {{"file", flags.model.path}, {"arch", config.arch}, {"img_size", S},
                       {"random_weights", flags.random_weights}, {"sparsifiner", config.sparsifiner}}},
            {"attention", attention_plan_json(model.attention_plan())},
            {"settings", {{"batch", B}, {"threads", flags.run.threads}, {"repeat", flags.repeat},
                          {"warmup", flags.warmup}, {"input", flags.images.empty() ? "random" : "images"},
                          {"input_images", image_count}}},
            {"fidelity", {{"enabled", flags.fidelity}, {"builds_dense_attention", flags.fidelity},
                          {"images", flags.fidelity ? image_count : 0},
                          {"top_singular_values", kTopSingularValues},
                          {"kept_mass_rows", "non-cls query rows"}}},
            {"timed", "DeitModel::forward: per-op times from runs with op timers, end-to-end latency from "
                      "interleaved runs without them; image decoding excluded; MACs are per image"},
            {"patch_embed", model_ops[(int)ModelOp::patch_embed]},
            {"head", model_ops[(int)ModelOp::head]},
            {"roofline", roofline_json(roofline)},
            {"layers", layers},
            {"totals", totals}});
        std::printf("%s\n", json_text(document).c_str());
        return kExitOk;
    }
    char title[256];
    std::snprintf(title, sizeof title, "%s at %dx%d, batch %d, %d thread(s), attention %s, %s; median of %d runs (ms)",
                  config.arch.c_str(), S, S, B, flags.run.threads, mask_source_name(model.attention_plan().mask),
                  model.dtype() == Dtype::bf16 ? "Linear layers bf16" : "f32", flags.repeat);
    const Table block_table = profile_block_table(block_rows, title);
    if (format != OutputFormat::table) {
        table_print(block_table, format);
        return kExitOk;
    }
    table_print(block_table, format);
    std::printf("patch embed %.3f ms, head %.3f ms\n", ms(quantile(samples.model[0], 0.5)),
                ms(quantile(samples.model[1], 0.5)));
    std::printf("MACs per image: %.4f G (dense %.4f G); MHSA %.4f G (dense %.4f G); MLP %.4f G\n", total / 1e9,
                dense.total() / 1e9, mhsa / 1e9, dense.attention_products() / 1e9, mlp_macs / 1e9);
    std::printf("  with LayerNorm as fvcore counts it (5 per element): %.4f G (dense %.4f G)\n",
                actual.total_with_layernorm() / 1e9, dense.total_with_layernorm() / 1e9);
    std::printf("latency: median %.2f ms, p90 %.2f ms (%.1f images/s); with op timers %.2f ms (%+.1f%%), sum of op "
                "medians %.2f ms\n",
                ms(untimed_median), ms(quantile(samples.untimed_total, 0.9)), B / untimed_median, ms(timed_median),
                100 * timer_overhead, ms(sum_of_op_medians));
    std::printf("peak resident memory %.1f MiB; %s\n", peak_rss_mib, machine_identity()["cpu"].get<std::string>().c_str());
    sub_ops_table(parts_rows);
    std::printf("\n");
    table_print(efficiency_table(roofline, efficiency_rows), format);
    if (flags.fidelity) fidelity_table(probe.layers(), image_count);
    return kExitOk;
}

}  // namespace

Command profile_command(CLI::App& app) {
    auto flags = std::make_shared<ProfileFlags>();
    CLI::App* command = app.add_subcommand(
        "profile", "Per-block, per-op latency and MACs (actual and dense-equivalent), attention density, tokens alive; "
                   "--fidelity: sparse against dense attention.\nMACs count matrix products and the patch convolution "
                   "only (DeiT-S at 224: 4.599 G); LayerNorm, softmax and GELU are element counts apart. fvcore's "
                   "default rules also count LayerNorm, 5 per element (DeiT-S: 4.608 G): the totals give that "
                   "figure too (total_with_layernorm)");
    flags->model.add_to(*command, false);
    flags->attention.add_to(*command);
    command->add_option("images", flags->images, "Images to run (default: a seeded random input tensor)");
    command->add_option("--arch", flags->arch, "With --random-weights: deit_tiny, deit_small or deit_base");
    command->add_flag("--distilled", flags->distilled, "With --random-weights: a distilled model");
    command->add_flag("--sparsifiner", flags->sparsifiner, "With --random-weights: add a random connectivity predictor");
    command->add_flag("--random-weights", flags->random_weights,
                      "Profile a geometry with seeded random weights instead of a model file");
    command->add_option("--seed", flags->seed, "Seed of the random weights");
    command->add_option("--batch", flags->batch, "Images per forward pass")->check(CLI::Range(1, 4096));
    flags->run.add_to(*command);
    command->add_option("--repeat", flags->repeat, "Timed runs (each with and without op timers)")
        ->check(CLI::Range(1, 100000));
    command->add_option("--warmup", flags->warmup, "Untimed runs first")->check(CLI::Range(0, 100000));
    command->add_option("--crop-pct", flags->crop_pct, "Preprocessing crop (see classify)")->check(CLI::Range(0.05f, 1.0f));
    command->add_option("--trace", flags->trace,
                        "Also write the last timed pass as a Chrome / Perfetto trace (JSON traceEvents: per block, "
                        "per op and the parts of mask and attention); open it at ui.perfetto.dev");
    command->add_option("--dump-masks", flags->dump_masks,
                        "Also write the kept keys and alive tokens of one more pass as .npy (see classify)");
    command->add_flag("--fidelity", flags->fidelity,
                      "Also compare each head with dense attention, per image in an untimed pass: kept softmax "
                      "mass, output error, singular values (top 32) of the dense, sparse and low-rank (learned) "
                      "attention matrices. Builds the dense N x N attention matrices (slow at large N)");
    return {command, [flags] {
                if (!flags->random_weights) flags->model.use_default_if_absent();
                return profile_run(*flags);
            }};
}

}  // namespace sparsifiner
