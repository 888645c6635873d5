// sparsifiner sweep: accuracy, agreement with the dense model, KL, MACs and latency for every
// keep rate x mask source (x token-keep rate) on a data set. Each image is decoded once and run
// through the dense model once per sweep; then once per setting. `--shard i/n` takes every n-th
// image so that n processes share the work; `sparsifiner merge` adds their documents up.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "cli/attention_probe.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/sweep_plot.h"
#include "cli/sweep_table.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/model_open.h"
#include "weights/sha256.h"
#include "cli/image_inputs.h"
#include "cli/sweep_predictions.h"
#include "cli/sweep_totals.h"
#include "core/model/class_scores.h"
#include "core/model/deit_model.h"
#include "datasets/image_batch.h"
#include "image/image.h"
#include "core/model/macs.h"
#include "datasets/image_source.h"

namespace sparsifiner {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;

// The first Ctrl-C asks the sweep to stop after the current batch and write what it has; a
// second one (the default action, restored here) ends the process at once.
extern "C" void sweep_on_sigint(int) {
    g_interrupted = 1;
    std::signal(SIGINT, SIG_DFL);
}

struct SweepFlags {
    ModelFlags model;
    std::string data, classes_file;
    std::vector<std::string> images;
    std::string keep_rates = "1.0,0.5,0.25";
    std::string masks;  // default: learned,oracle,window for Sparsifiner weights, else oracle,window
    std::string prune_at, token_keeps;
    std::string budget_rule;  // empty = official
    int limit = 0;
    std::string shard = "1/1";
    int batch = 1, threads = 1;
    float crop_pct = 0;  // 0 = the model's
    RunFlags run;
    std::string plot;  // --plot FILE.svg
    std::string predictions;  // --predictions FILE.csv
};

// The dense pass run again in another dtype (--dtype f32,bf16: bf16 here) and compared with the
// dense pass in the first dtype, image by image: top-1 agreement, KL, max |logit difference|.
struct DtypeRun {
    Dtype dtype;
    std::unique_ptr<DeitModel> model;
    SweepTotals totals;
    double max_abs_logit_diff = 0;
};

struct Setting {
    AttentionPlan plan;
    std::string label;  // "learned@0.25" (+ "/t0.7" with token pruning): JSON "setting", CSV rows
    std::string mask;
    float keep_rate, token_keep;
    SweepTotals totals;
};

void shard_parse(const std::string& text, int* index, int* count) {
    size_t slash = text.find('/');
    bool ok = slash != std::string::npos;
    if (ok) {
        try {
            size_t a = 0, b = 0;
            *index = std::stoi(text.substr(0, slash), &a);
            *count = std::stoi(text.substr(slash + 1), &b);
            ok = a == slash && b == text.size() - slash - 1;
        } catch (const std::exception&) {
            ok = false;
        }
    }
    if (!ok || *count < 1 || *index < 1 || *index > *count)
        throw CommandError(kExitUsage, "--shard: '" + text + "' is not i/n with 1 <= i <= n");
}

// Softmax in double: the sweep's KL must not be dominated by float rounding of tiny values.
void log_softmax(const float* logits, int C, std::vector<double>& out) {
    out.resize(C);
    double top = logits[0];
    for (int c = 1; c < C; c++) top = std::max(top, (double)logits[c]);
    double sum = 0;
    for (int c = 0; c < C; c++) sum += std::exp((double)logits[c] - top);
    const double log_sum = std::log(sum) + top;
    for (int c = 0; c < C; c++) out[c] = logits[c] - log_sum;
}

// Adds one forward pass of B images to the totals: labels known where >= 0.
void totals_add_batch(SweepTotals& totals, const float* logits, const float* dense_logits, const int* labels, int B,
                      int C, const ForwardMacs& macs, double seconds) {
    std::vector<double> log_p, log_q;
    for (int b = 0; b < B; b++) {
        const float* z = logits + (size_t)b * C;
        const std::vector<ClassScore> top = top_classes(z, C, std::min(5, C));
        if (labels[b] >= 0) {
            totals.labelled++;
            totals.top1_correct += top[0].index == labels[b];
            for (const ClassScore& s : top) totals.top5_correct += s.index == labels[b];
        }
        if (dense_logits != nullptr) {
            const float* zd = dense_logits + (size_t)b * C;
            totals.top1_agree += top_classes(zd, C, 1)[0].index == top[0].index;
            log_softmax(zd, C, log_p);
            log_softmax(z, C, log_q);
            double kl = 0;
            for (int c = 0; c < C; c++) kl += std::exp(log_p[c]) * (log_p[c] - log_q[c]);
            totals.kl_sum_nats += std::max(0.0, kl);  // clamp the rounding-level negative of equal logits
        } else {
            totals.top1_agree++;  // the dense model agrees with itself
        }
        totals.images++;
    }
    totals.macs_sum += std::round(macs.total() * B);
    totals.mhsa_macs_sum += std::round(macs.mhsa() * B);
    totals.latency_ms.push_back(seconds * 1e3 / B);
}

// Decodes and preprocesses items [begin, end) into out (packed); failures are appended to errors.
std::vector<int> batch_prepare(const ImageSource& source, const std::vector<int>& selected, size_t begin, size_t end,
                               int S, const ImagePreprocess& preprocess, float* out, nlohmann::json& errors) {
    const size_t n = end - begin, image_floats = (size_t)preprocess.channels * S * S;
    const std::vector<std::string> failure = image_items_prepare(source, selected, begin, end, S, preprocess, out);
    std::vector<int> done;  // indices into `selected` of the images that worked, packed in order
    for (size_t i = 0; i < n; i++) {
        if (!failure[i].empty()) {
            report_error(failure[i]);
            errors.push_back({{"index", (long)(begin + i)}, {"file", source.items[selected[begin + i]].name},
                              {"error", failure[i]}});
            continue;
        }
        if (done.size() != i)
            std::copy(out + i * image_floats, out + (i + 1) * image_floats, out + done.size() * image_floats);
        done.push_back((int)(begin + i));
    }
    return done;
}

std::string setting_label(const Setting& s);

std::vector<Setting> settings_make(const SweepFlags& flags, const DeitConfig& config) {
    const std::string masks = !flags.masks.empty() ? flags.masks
                              : config.sparsifiner ? "learned,oracle,window"
                                                   : "oracle,window";
    const std::vector<float> rates = parse_list<float>(flags.keep_rates, "--keep-rates");
    const std::vector<float> token_keeps =
        flags.token_keeps.empty() ? std::vector<float>{1.0f} : token_keep_list(flags.token_keeps, flags.prune_at);
    std::vector<Setting> settings;
    for (const std::string& mask : split_list(masks))
        for (float rate : rates)
            for (float token_keep : token_keeps) {
                AttentionFlags af;
                af.mask = mask;
                af.keep_rates = std::to_string(rate);
                af.prune_at = flags.prune_at;
                af.token_keep = token_keep;
                af.budget_rule = flags.budget_rule;
                Setting s;
                s.plan = af.plan_for(config);
                if (flags.prune_at.empty()) s.plan.prune_at.clear();  // a sweep prunes only when asked
                s.mask = mask, s.keep_rate = rate, s.token_keep = flags.prune_at.empty() ? 1.0f : token_keep;
                s.label = setting_label(s);
                settings.push_back(s);
            }
    return settings;
}

// 0.1f is 0.100000001490116 as a double: print the rate the user typed (6 significant digits).
double rate_json(float rate) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", rate);
    return std::strtod(text, nullptr);
}

std::string setting_label(const Setting& s) {
    char text[96];
    std::snprintf(text, sizeof text, "%s@%.6g", s.mask.c_str(), s.keep_rate);
    std::string label = text;
    if (!s.plan.prune_at.empty()) {
        std::snprintf(text, sizeof text, "/t%.6g", s.token_keep);
        label += text;
    }
    return label;
}

nlohmann::json setting_json(const Setting& s) {
    nlohmann::json out = {{"setting", s.label}, {"mask", s.mask}, {"keep_rate", rate_json(s.keep_rate)},
                          {"token_keep", rate_json(s.token_keep)},
                          {"attention", attention_plan_json(s.plan)}};
    s.totals.to_json(out);
    return out;
}

int sweep_run(const SweepFlags& flags) {
    if (flags.data.empty() == flags.images.empty())
        throw CommandError(kExitUsage, "give exactly one of --data PATH and --images FILE...");
    int shard_index = 1, shard_count = 1;
    shard_parse(flags.shard, &shard_index, &shard_count);
    const OutputFormat format = flags.run.output_format();
    // Output paths fail now, not after the run.
    if (!flags.plot.empty()) output_path_check(flags.plot);
    if (!flags.predictions.empty()) output_path_check(flags.predictions);
    threads_apply(flags.run.threads);
    // The first dtype runs dense and every setting; each further one runs the dense pass only.
    const std::vector<Dtype> dtypes = flags.model.dtypes();

    ImageSource source;
    try {
        source = flags.data.empty() ? image_source_paths(flags.images) : image_source_open(flags.data, flags.classes_file, flags.limit);
    } catch (const DataSourceError& e) {
        throw CommandError(kExitUsage, e.what());
    }
    DeitWeights weights = model_load(flags.model);
    // The weights by content, so that merge can tell shards of other weights under the same name.
    std::string weights_sha256;
    try {
        weights_sha256 = sha256_file(flags.model.path);
    } catch (const std::runtime_error& e) {
        throw CommandError(kExitModelError, e.what());
    }
    const DeitConfig config = weights.config;
    std::vector<Setting> settings = settings_make(flags, config);
    if (source.labelled && (int)source.class_names.size() > config.num_classes)
        throw CommandError(kExitUsage, source.location + ": " + std::to_string(source.class_names.size()) +
                                           " classes, but the model has " + std::to_string(config.num_classes));
    // Fewer classes in the data than in the model: labels are compared as class indices, which
    // means something only when the data's classes are the model's first ones, in its order.
    // A list file's labels are the model's class indices by definition: nothing to warn about.
    if (source.labelled && source.kind != "list" && (int)source.class_names.size() < config.num_classes)
        report_warning(source.location + " has " + std::to_string(source.class_names.size()) +
                       " classes and the model " + std::to_string(config.num_classes) +
                       ": top-1/top-5 count a prediction correct when its class index equals the label, which is "
                       "meaningful only if the data's classes are the model's first " +
                       std::to_string(source.class_names.size()) + " in order");
    std::unique_ptr<DeitModel> model;
    std::vector<DtypeRun> dtype_runs;
    AttentionPlan dense_plan;
    dense_plan.mask = MaskSource::dense;
    dense_plan.keep_rate.assign(config.depth, 1.0f);
    try {
        model = std::make_unique<DeitModel>(weights, flags.model.img_size, dtypes[0]);
        for (const Setting& s : settings) model->set_attention_plan(s.plan);  // fail before any work
        model->set_attention_plan(dense_plan);
        for (size_t i = 1; i < dtypes.size(); i++) {
            auto other = std::make_unique<DeitModel>(weights, flags.model.img_size, dtypes[i]);
            other->set_attention_plan(dense_plan);
            dtype_runs.push_back({dtypes[i], std::move(other), {}, 0});
        }
    } catch (const std::invalid_argument& e) {
        throw CommandError(kExitUsage, e.what());
    }
    weights = DeitWeights();
    const int S = model->img_size(), C = model->num_classes();
    const ImagePreprocess preprocess = preprocess_for(config, flags.crop_pct);
    std::unique_ptr<PredictionsCsv> predictions;
    if (!flags.predictions.empty()) predictions = std::make_unique<PredictionsCsv>(flags.predictions);

    // --limit takes the first N of the source's fixed order; the shard then takes every n-th.
    const size_t limited = flags.limit > 0 ? std::min(source.items.size(), (size_t)flags.limit) : source.items.size();
    std::vector<int> selected;
    for (size_t i = shard_index - 1; i < limited; i += shard_count) selected.push_back((int)i);

    SweepTotals dense;
    nlohmann::json errors = nlohmann::json::array();
    const size_t image_floats = (size_t)config.in_chans * S * S;
    std::vector<float> images(image_floats * flags.batch), dense_logits((size_t)C * flags.batch),
        logits((size_t)C * flags.batch);
    Progress progress(flags.run, "sweep", "images", (long)selected.size());
    g_interrupted = 0;
    auto previous = std::signal(SIGINT, sweep_on_sigint);
    size_t attempted = 0;
    using clock = std::chrono::steady_clock;
    for (size_t begin = 0; begin < selected.size() && !g_interrupted; begin += flags.batch) {
        const size_t end = std::min(selected.size(), begin + flags.batch);
        std::vector<int> done = batch_prepare(source, selected, begin, end, S, preprocess, images.data(), errors);
        attempted = end;
        const int B = (int)done.size();
        if (B > 0) {
            std::vector<int> labels(B);
            for (int b = 0; b < B; b++) labels[b] = source.items[selected[done[b]]].label;
            ForwardStats stats;
            ForwardObserver observer;
            observer.stats = &stats;
            model->set_attention_plan(dense_plan);
            auto t0 = clock::now();
            model->forward(images.data(), B, dense_logits.data(), &observer);
            logits_check(dense_logits.data(), (size_t)B * C, flags.model.path);
            double seconds = std::chrono::duration<double>(clock::now() - t0).count();
            totals_add_batch(dense, dense_logits.data(), nullptr, labels.data(), B, C, forward_macs(config, stats, S),
                             seconds);
            dense.kept_mass_sum += B;  // dense attention keeps all of the mass
            for (DtypeRun& run : dtype_runs) {
                ForwardStats run_stats;
                observer.stats = &run_stats;
                t0 = clock::now();
                run.model->forward(images.data(), B, logits.data(), &observer);
                logits_check(logits.data(), (size_t)B * C, flags.model.path);
                seconds = std::chrono::duration<double>(clock::now() - t0).count();
                totals_add_batch(run.totals, logits.data(), dense_logits.data(), labels.data(), B, C,
                                 forward_macs(config, run_stats, S), seconds);
                run.totals.kept_mass_sum += B;
                for (size_t i = 0; i < (size_t)B * C; i++)
                    run.max_abs_logit_diff =
                        std::max(run.max_abs_logit_diff, std::fabs((double)logits[i] - (double)dense_logits[i]));
            }
            // top1[0] dense, top1[1 + i] setting i; one column per image of the batch.
            std::vector<std::vector<int>> top1(predictions ? settings.size() + 1 : 0, std::vector<int>(B));
            auto record_top1 = [&](size_t row, const float* z) {
                if (!predictions) return;
                for (int b = 0; b < B; b++) top1[row][b] = top_classes(z + (size_t)b * C, C, 1)[0].index;
            };
            record_top1(0, dense_logits.data());
            for (Setting& s : settings) {
                model->set_attention_plan(s.plan);
                ForwardStats setting_stats;
                observer.stats = &setting_stats;
                t0 = clock::now();
                model->forward(images.data(), B, logits.data(), &observer);
                logits_check(logits.data(), (size_t)B * C, flags.model.path);
                seconds = std::chrono::duration<double>(clock::now() - t0).count();
                totals_add_batch(s.totals, logits.data(), dense_logits.data(), labels.data(), B, C,
                                 forward_macs(config, setting_stats, S), seconds);
                record_top1(1 + (&s - settings.data()), logits.data());
                // The kept mass needs the dense softmax rows: a pass of its own, after the timed one,
                // so that the latency above does not include it. Keep rate 1 everywhere is dense
                // attention: all of the mass, no pass needed.
                const bool keeps_all = std::all_of(s.plan.keep_rate.begin(), s.plan.keep_rate.end(),
                                                   [](float rate) { return rate >= 1.0f; });
                if (keeps_all) {
                    s.totals.kept_mass_sum += B;
                } else {
                    AttentionProbe probe(config.depth, config.num_heads, config.head_dim(), ProbeDepth::kept_mass);
                    ForwardObserver probe_observer = probe.observer();
                    model->forward(images.data(), B, logits.data(), &probe_observer);
                    s.totals.kept_mass_sum += probe.kept_mass_image_sum();
                }
            }
            for (int b = 0; b < B && predictions; b++) {
                const ImageItem& item = source.items[selected[done[b]]];
                const long index = selected[done[b]];
                predictions->add(index, item.name, item.label, "dense", top1[0][b]);
                for (size_t i = 0; i < settings.size(); i++)
                    predictions->add(index, item.name, item.label, settings[i].label, top1[1 + i][b]);
            }
        }
        progress.update((long)end);
    }
    progress.finish();
    std::signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
    const bool partial = attempted < selected.size();

    if (predictions) predictions->close();
    nlohmann::json dense_json = {{"setting", "dense"}, {"mask", "dense"}, {"keep_rate", 1.0}, {"token_keep", 1.0},
                                 {"attention", attention_plan_json(dense_plan)}};
    dense.to_json(dense_json);
    nlohmann::json settings_json = nlohmann::json::array();
    for (const Setting& s : settings) settings_json.push_back(setting_json(s));
    nlohmann::json dtype_json = nlohmann::json::array();
    for (const DtypeRun& run : dtype_runs) {
        nlohmann::json row = {{"setting", std::string("dense/") + dtype_name(run.dtype)}, {"mask", "dense"},
                              {"keep_rate", 1.0}, {"token_keep", 1.0}, {"attention", attention_plan_json(dense_plan)},
                              {"dtype", dtype_name(run.dtype)}, {"against", dtype_name(dtypes[0])},
                              {"max_abs_logit_diff", run.max_abs_logit_diff}};
        run.totals.to_json(row);
        dtype_json.push_back(row);
    }
    nlohmann::json document = {
        {"schema_version", kJsonSchemaVersion},
        {"command", "sweep"},
        {"tool", tool_identity()},
        {"machine", machine_identity()},
        {"dtype", dtype_name(dtypes[0])},
        {"model", {{"file", flags.model.path}, {"sha256", weights_sha256}, {"arch", config.arch}, {"img_size", S},
                   {"num_classes", C}, {"sparsifiner", config.sparsifiner}, {"distilled", config.distilled}}},
        {"data", {{"kind", source.kind}, {"location", source.location}, {"labelled", source.labelled},
                  {"classes", source.class_names.size()}, {"images_in_source", source.images_in_source},
                  {"limit", flags.limit}, {"images_selected", limited}}},
        {"shard", {{"index", shard_index}, {"count", shard_count}, {"images", selected.size()}}},
        {"options", {{"batch", flags.batch}, {"threads", flags.run.threads}, {"crop_pct", preprocess.crop_pct},
                     {"masks", flags.masks}, {"keep_rates", flags.keep_rates}, {"prune_at", flags.prune_at},
                     {"token_keeps", flags.token_keeps}, {"budget_rule", flags.budget_rule},
                     {"dtypes", flags.model.dtype}}},
        {"partial", partial},
        {"images", {{"attempted", attempted}, {"ok", dense.images}, {"failed", errors.size()}}},
        {"errors", errors},
        {"dense", dense_json},
        {"settings", settings_json},
        {"dtype_compared", dtype_json}};
    if (!flags.plot.empty()) sweep_plot_svg(document, flags.plot);
    if (format == OutputFormat::json)
        std::printf("%s\n", json_text(document).c_str());
    else
        table_print(sweep_table(document), format);
    std::fflush(stdout);
    if (partial) return 130;  // 128 + SIGINT, as a shell reports it: the document says partial
    return errors.empty() ? kExitOk : kExitSomeInputsFailed;
}

}  // namespace

Command sweep_command(CLI::App& app) {
    auto flags = std::make_shared<SweepFlags>();
    CLI::App* command = app.add_subcommand(
        "sweep", "Accuracy, agreement with dense, KL, MACs and latency for every keep rate x mask source on a data set");
    flags->model.add_to(*command, false, true);
    command->add_option("--data", flags->data,
                        "A folder with one sub-folder per class, a folder of images (unlabelled), a list file of "
                        "`path label` lines, a folder with Fashion-MNIST IDX files, or the word fashion-mnist "
                        "(Debian's dataset-fashion-mnist)");
    command->add_option("--classes", flags->classes_file,
                        "With a class-folder --data: the class order, one folder name (first word) per line "
                        "(e.g. ImageNet synsets); default the sorted sub-folder names");
    command->add_option("--images", flags->images, "Image files or folders, unlabelled (agreement and KL only)");
    command->add_option("--keep-rates", flags->keep_rates, "Comma-separated keep rates, each in (0, 1]");
    command->add_option("--mask", flags->masks,
                        "Comma-separated mask sources: learned, oracle, window (default: all that the weights allow)");
    command->add_option("--prune-at", flags->prune_at, "Blocks (from 0) that prune tokens in every setting, e.g. 3,6,9");
    command->add_option("--token-keep", flags->token_keeps, "Comma-separated token pruning base rates (with --prune-at)");
    command->add_option("--budget-rule", flags->budget_rule,
                        "Keys per query after token pruning: official (default: ceil(keep rate x all tokens), at most "
                        "the alive patches) or alive (ceil(keep rate x alive tokens))");
    command->add_option("--limit", flags->limit, "Use only the first N images of the data set")->check(CLI::Range(1, 1 << 30));
    command->add_option("--shard", flags->shard, "i/n: run only images i-1, i-1+n, ... (1 <= i <= n)");
    command->add_option("--batch", flags->batch, "Images per forward pass")->check(CLI::Range(1, 4096));
    flags->run.add_to(*command);
    command->add_option("--crop-pct", flags->crop_pct,
                        "Resize the shorter side to size/crop-pct, then centre-crop (default the model's crop_pct)")
        ->check(CLI::Range(0.05f, 1.0f));
    command->add_option("--plot", flags->plot,
                        "Also draw top-1 (or agreement, without labels) against MHSA MACs, one line per mask "
                        "source, as an SVG file");
    command->add_option("--predictions", flags->predictions,
                        "Also write every image's top-1 class per setting as CSV: index,name,label,setting,top1 "
                        "(setting as in the JSON, \"dense\" for the dense pass; one file per shard)");
    return {command, [flags] {
                flags->model.use_default_if_absent();
                return sweep_run(*flags);
            }};
}

}  // namespace sparsifiner
