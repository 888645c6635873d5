// sparsifiner classify: images in, the top classes out (a table, or one JSON document).
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/forward_dump.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/model_open.h"
#include "cli/image_inputs.h"
#include "cli/name_truth.h"
#include "cli/progress.h"
#include "cli/report_table.h"
#include "core/model/class_scores.h"
#include "core/model/deit_model.h"
#include "datasets/labels.h"

namespace sparsifiner {

namespace {

struct ClassifyFlags {
    ModelFlags model;
    AttentionFlags attention;
    RunFlags run;
    std::vector<std::string> inputs;
    int top = 5;
    int batch = 1;
    float crop_pct = 0;  // 0 = the model's (its metadata, else 0.875)
    bool logits = false;
    bool truth_from_name = false;
    std::string dump_activations;
    std::string dump_masks;
};

// One image's answer. truth: -1 = not asked for, -2 = asked for but the file name names no class.
struct ClassifyResult {
    std::string file;
    std::vector<ClassScore> top;
    int truth = -1;
    std::vector<float> logits;  // with --logits only
};

// Everything classify reports; every --format is rendered from this.
struct ClassifyReport {
    nlohmann::json model, attention, settings;
    std::string dtype;  // what the Linear layers computed in
    std::vector<std::string> names;
    std::vector<ClassifyResult> results;
    std::vector<std::pair<std::string, std::string>> errors;  // file, one-line error
    bool truth_asked = false, logits = false;
    int with_truth = 0, top1_correct = 0;

    nlohmann::json to_json() const {
        nlohmann::json document = json_document("classify");
        document["dtype"] = dtype;
        document["model"] = model;
        document["attention"] = attention;
        document["settings"] = settings;
        document["results"] = nlohmann::json::array();
        for (const ClassifyResult& r : results) {
            nlohmann::json entry = {{"file", r.file}, {"top", nlohmann::json::array()}};
            if (truth_asked)
                entry["true_class"] = r.truth >= 0 ? nlohmann::json{{"class", r.truth}, {"label", names[r.truth]}}
                                                   : nlohmann::json(nullptr);
            for (const ClassScore& s : r.top)
                entry["top"].push_back({{"class", s.index}, {"label", names[s.index]}, {"prob", s.probability}});
            if (logits) entry["logits"] = r.logits;
            document["results"].push_back(entry);
        }
        document["errors"] = nlohmann::json::array();
        for (const auto& [file, error] : errors) document["errors"].push_back({{"file", file}, {"error", error}});
        if (truth_asked) document["truth"] = {{"images", with_truth}, {"top1_correct", top1_correct}};
        return document;
    }

    // The text form: each image, then its top classes beneath it; the verdict on the top-1 row.
    void print_text() const {
        // No header over nothing: when every image failed, stdout stays empty.
        if (!results.empty())
            std::printf("image / rank  probability  class (index)%s\n", truth_asked ? "  [verdict]" : "");
        for (const ClassifyResult& r : results) {
            if (r.truth >= 0)
                std::printf("%s  (true: %s (%d))\n", table_text(r.file).c_str(), table_text(names[r.truth]).c_str(),
                            r.truth);
            else
                std::printf("%s%s\n", table_text(r.file).c_str(), r.truth == -2 ? "  (true: unknown)" : "");
            for (size_t k = 0; k < r.top.size(); k++)
                std::printf("  %zu  %7.4f  %s (%d)%s\n", k + 1, r.top[k].probability,
                            table_text(names[r.top[k].index]).c_str(),
                            r.top[k].index,
                            k > 0 || r.truth < 0 ? "" : r.top[k].index == r.truth ? "  correct" : "  WRONG");
        }
        if (truth_asked && with_truth > 0)
            std::printf("top-1 correct: %d of %d (%.1f%%)\n", top1_correct, with_truth, 100.0 * top1_correct / with_truth);
    }

    // CSV and Markdown: one row per image and rank.
    Table table() const {
        Table t;
        t.columns = {"file", "rank", "class", "label", "prob"};
        if (truth_asked) t.columns.insert(t.columns.end(), {"true_class", "true_label"});
        for (const ClassifyResult& r : results)
            for (size_t k = 0; k < r.top.size(); k++) {
                std::vector<std::string> row = {r.file, std::to_string(k + 1), std::to_string(r.top[k].index),
                                                names[r.top[k].index], cell(r.top[k].probability, 6)};
                if (truth_asked) {
                    row.push_back(r.truth >= 0 ? std::to_string(r.truth) : "");
                    row.push_back(r.truth >= 0 ? names[r.truth] : "");
                }
                t.add(row);
            }
        if (truth_asked && with_truth > 0)
            t.notes.push_back("top-1 correct: " + std::to_string(top1_correct) + " of " + std::to_string(with_truth));
        return t;
    }
};

int classify_run(const ClassifyFlags& flags) {
    const OutputFormat format = flags.run.output_format();
    if (flags.logits && format != OutputFormat::json)
        throw CommandError(kExitUsage, "--logits needs --json (the raw logits are a field of the JSON document only)");
    // Output folders fail now, not after the run.
    if (!flags.dump_activations.empty()) output_folder_check(flags.dump_activations);
    if (!flags.dump_masks.empty()) output_folder_check(flags.dump_masks);
    threads_apply(flags.run.threads);
    OpenModel opened = model_open(flags.model, flags.attention);
    DeitModel& model = *opened.model;
    const DeitConfig& config = opened.config;

    ClassifyReport report;
    report.names = class_names_for(config.num_classes, config.class_names, config.label_set);
    report.truth_asked = flags.truth_from_name;
    report.logits = flags.logits;
    const std::vector<std::string>& names = report.names;

    const std::vector<std::string> paths = image_paths_expand(flags.inputs);
    if (paths.empty()) throw CommandError(kExitUsage, "no images given (folders are searched for image files)");
    const int S = model.img_size(), C = model.num_classes(), D = config.embed_dim;
    const ImagePreprocess preprocess = preprocess_for(config, flags.crop_pct);
    const size_t image_floats = (size_t)config.in_chans * S * S;
    std::vector<float> images(image_floats * flags.batch), logits((size_t)C * flags.batch);

    const bool dumping = !flags.dump_activations.empty() || !flags.dump_masks.empty();
    ForwardDump dump;
    dump.H = config.num_heads;
    dump.D = D;
    dump.resize(config.depth);
    const ForwardObserver observer = dump.observer(!flags.dump_activations.empty(), !flags.dump_masks.empty());
    std::vector<float> all_logits;

    Progress progress(flags.run, "classify", "images", (long)paths.size());
    for (size_t start = 0; start < paths.size(); start += flags.batch) {
        std::vector<std::string> chunk(paths.begin() + start,
                                       paths.begin() + std::min(paths.size(), start + flags.batch));
        std::vector<std::string> chunk_errors = images_prepare(chunk, S, preprocess, images.data());
        // Failed images are reported and dropped; the others are packed together.
        std::vector<std::string> ok_paths;
        for (size_t i = 0; i < chunk.size(); i++) {
            if (!chunk_errors[i].empty()) {
                report_error(chunk_errors[i]);
                report.errors.emplace_back(chunk[i], chunk_errors[i]);
                continue;
            }
            if (ok_paths.size() != i)
                std::copy(images.begin() + i * image_floats, images.begin() + (i + 1) * image_floats,
                          images.begin() + ok_paths.size() * image_floats);
            ok_paths.push_back(chunk[i]);
        }
        if (!ok_paths.empty()) {
            const int B = (int)ok_paths.size();
            model.forward(images.data(), B, logits.data(), dumping ? &observer : nullptr);
            logits_check(logits.data(), (size_t)B * C, flags.model.path);
            for (int b = 0; b < B; b++) {
                const float* image_logits = logits.data() + (size_t)b * C;
                ClassifyResult result;
                result.file = ok_paths[b];
                result.top = top_classes(image_logits, C, flags.top);
                if (dumping) all_logits.insert(all_logits.end(), image_logits, image_logits + C);
                if (flags.logits) result.logits.assign(image_logits, image_logits + C);
                if (flags.truth_from_name) {
                    result.truth = class_from_file_name(ok_paths[b], names);
                    if (result.truth < 0) {
                        report_error(ok_paths[b] +
                                     ": the file name names no class after its first '_' (no true class shown)");
                        result.truth = -2;
                    } else {
                        report.with_truth++;
                        report.top1_correct += result.top[0].index == result.truth;
                    }
                }
                report.results.push_back(std::move(result));
            }
        }
        progress.update((long)std::min(paths.size(), start + flags.batch));
    }
    progress.finish();

    if (dumping) dump.write(flags.dump_activations, flags.dump_masks, all_logits, C);
    report.model = {{"file", flags.model.path}, {"arch", config.arch}, {"img_size", S},
                    {"num_classes", C}, {"distilled", config.distilled}};
    report.attention = attention_plan_json(model.attention_plan());
    report.dtype = dtype_name(model.dtype());
    report.settings = {{"batch", flags.batch}, {"threads", flags.run.threads}, {"top", flags.top},
                       {"crop_pct", preprocess.crop_pct}};
    if (format == OutputFormat::json) std::printf("%s\n", json_text(report.to_json()).c_str());
    else if (format == OutputFormat::table) report.print_text();
    else table_print(report.table(), format);
    return report.errors.empty() ? kExitOk : kExitSomeInputsFailed;
}

}  // namespace

Command classify_command(CLI::App& app) {
    auto flags = std::make_shared<ClassifyFlags>();
    CLI::App* command = app.add_subcommand("classify", "Classify images: the top classes of each, as a table or JSON");
    flags->model.add_to(*command, false);
    flags->attention.add_to(*command);
    command->add_option("images", flags->inputs, "Image files or folders (JPEG, PNG, BMP, TGA, GIF, PNM)")->required();
    command->add_option("--top", flags->top, "How many classes to show per image")->check(CLI::Range(1, 100000));
    command->add_option("--batch", flags->batch, "Images per forward pass")->check(CLI::Range(1, 4096));
    flags->run.add_to(*command);
    command->add_option("--crop-pct", flags->crop_pct,
                        "Resize the shorter side to size/crop-pct, then centre-crop (timm's crop_pct; 1.0 = no crop; "
                        "default the model's crop_pct, else 0.875)")
        ->check(CLI::Range(0.05f, 1.0f));
    command->add_flag("--logits", flags->logits, "JSON only (--json): include the raw logits of every image");
    command->add_flag("--truth-from-name", flags->truth_from_name,
                      "Show the true class beside the prediction, read from the file name after its first '_' "
                      "(0000_ankle-boot.png; matched against the class names, case and punctuation ignored)");
    command->add_option("--dump-activations", flags->dump_activations,
                        "Write the hidden state after every block (block_<i>.npy, [images, T, D]) and the "
                        "logits (logits.npy) to this folder");
    command->add_option("--dump-masks", flags->dump_masks,
                        "Write per block the alive tokens' original indices (block_<i>_tokens.npy, [images, T_i]) "
                        "and, for sparse blocks, the kept keys (block_<i>_keys.npy, [images, H, T_i - 1, k_i], "
                        "indices into the alive tokens) to this folder");
    return {command, [flags] {
                flags->model.use_default_if_absent();
                return classify_run(*flags);
            }};
}

}  // namespace sparsifiner
