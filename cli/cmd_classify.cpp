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
#include "core/class_scores.h"
#include "core/deit_model.h"
#include "datasets/labels.h"

namespace sparsifiner {

namespace {

struct ClassifyFlags {
    ModelFlags model;
    AttentionFlags attention;
    std::vector<std::string> inputs;
    int top = 5;
    int batch = 1;
    int threads = 1;
    float crop_pct = 0;  // 0 = the model's (its metadata, else 0.875)
    bool json = false;
    bool logits = false;
    bool truth_from_name = false;
    std::string dump_activations;
    std::string dump_masks;
};

// truth: -1 = not asked for, -2 = asked for but the file name names no class.
void print_table_rows(const std::string& path, const std::vector<ClassScore>& top,
                      const std::vector<std::string>& names, int truth) {
    if (truth >= 0)
        std::printf("%s  (true: %s (%d))\n", path.c_str(), names[truth].c_str(), truth);
    else
        std::printf("%s%s\n", path.c_str(), truth == -2 ? "  (true: unknown)" : "");
    for (size_t r = 0; r < top.size(); r++)
        std::printf("  %zu  %7.4f  %s (%d)%s\n", r + 1, top[r].probability, names[top[r].index].c_str(),
                    top[r].index, r > 0 || truth < 0 ? "" : top[r].index == truth ? "  correct" : "  WRONG");
}

int classify_run(const ClassifyFlags& flags) {
    threads_apply(flags.threads);
    DeitWeights weights = model_load(flags.model);
    std::unique_ptr<DeitModel> built = model_build(weights, flags.model, flags.attention);
    DeitModel& model = *built;
    const DeitConfig config = weights.config;
    weights = DeitWeights();  // oneDNN holds its own copies now
    const std::vector<std::string> names =
        class_names_for(config.num_classes, config.class_names, config.label_set);

    const std::vector<std::string> paths = image_paths_expand(flags.inputs);
    if (paths.empty()) throw CommandError(kExitUsage, "no images given (folders are searched for image files)");
    const int S = model.img_size(), C = model.num_classes(), D = config.embed_dim;
    const ImagePreprocess preprocess = preprocess_for(config, flags.crop_pct);
    const size_t image_floats = (size_t)config.in_chans * S * S;
    std::vector<float> images(image_floats * flags.batch), logits((size_t)C * flags.batch);

    nlohmann::json results = nlohmann::json::array(), errors = nlohmann::json::array();
    const bool dumping = !flags.dump_activations.empty() || !flags.dump_masks.empty();
    ForwardDump dump;
    dump.H = config.num_heads;
    dump.D = D;
    dump.resize(config.depth);
    const ForwardObserver observer = dump.observer(!flags.dump_activations.empty(), !flags.dump_masks.empty());
    std::vector<float> all_logits;
    int with_truth = 0, top1_correct = 0;

    for (size_t start = 0; start < paths.size(); start += flags.batch) {
        std::vector<std::string> chunk(paths.begin() + start,
                                       paths.begin() + std::min(paths.size(), start + flags.batch));
        std::vector<std::string> chunk_errors = images_prepare(chunk, S, preprocess, images.data());
        // Failed images are reported and dropped; the others are packed together.
        std::vector<std::string> ok_paths;
        for (size_t i = 0; i < chunk.size(); i++) {
            if (!chunk_errors[i].empty()) {
                report_error(chunk_errors[i]);
                errors.push_back({{"file", chunk[i]}, {"error", chunk_errors[i]}});
                continue;
            }
            if (ok_paths.size() != i)
                std::copy(images.begin() + i * image_floats, images.begin() + (i + 1) * image_floats,
                          images.begin() + ok_paths.size() * image_floats);
            ok_paths.push_back(chunk[i]);
        }
        if (ok_paths.empty()) continue;
        const int B = (int)ok_paths.size();
        model.forward(images.data(), B, logits.data(), dumping ? &observer : nullptr);

        for (int b = 0; b < B; b++) {
            const float* image_logits = logits.data() + (size_t)b * C;
            std::vector<ClassScore> top = top_classes(image_logits, C, flags.top);
            if (dumping) all_logits.insert(all_logits.end(), image_logits, image_logits + C);
            int truth = -1;
            if (flags.truth_from_name) {
                truth = class_from_file_name(ok_paths[b], names);
                if (truth < 0) {
                    report_error(ok_paths[b] + ": the file name names no class after its first '_' (no true class shown)");
                    truth = -2;
                } else {
                    with_truth++;
                    top1_correct += top[0].index == truth;
                }
            }
            if (!flags.json) {
                print_table_rows(ok_paths[b], top, names, truth);
                continue;
            }
            nlohmann::json entry = {{"file", ok_paths[b]}, {"top", nlohmann::json::array()}};
            if (flags.truth_from_name)
                entry["true_class"] = truth >= 0 ? nlohmann::json{{"class", truth}, {"label", names[truth]}}
                                                 : nlohmann::json(nullptr);
            for (const ClassScore& s : top)
                entry["top"].push_back({{"class", s.index}, {"label", names[s.index]}, {"prob", s.probability}});
            if (flags.logits) entry["logits"] = std::vector<float>(image_logits, image_logits + C);
            results.push_back(entry);
        }
        std::fflush(stdout);
    }

    if (dumping) dump.write(flags.dump_activations, flags.dump_masks, all_logits, C);
    if (flags.json) {
        nlohmann::json document = {
            {"schema_version", kJsonSchemaVersion},
            {"command", "classify"},
            {"tool", tool_identity()},
            {"model", {{"file", flags.model.path}, {"arch", config.arch}, {"img_size", S},
                       {"num_classes", C}, {"distilled", config.distilled}}},
            {"attention", attention_plan_json(model.attention_plan())},
            {"settings", {{"batch", flags.batch}, {"threads", flags.threads}, {"top", flags.top},
                          {"crop_pct", preprocess.crop_pct}}},
            {"results", results},
            {"errors", errors}};
        if (flags.truth_from_name) document["truth"] = {{"images", with_truth}, {"top1_correct", top1_correct}};
        std::printf("%s\n", document.dump(2).c_str());
    } else if (flags.truth_from_name && with_truth > 0) {
        std::printf("top-1 correct: %d of %d (%.1f%%)\n", top1_correct, with_truth, 100.0 * top1_correct / with_truth);
    }
    return errors.empty() ? kExitOk : kExitSomeInputsFailed;
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
    command->add_option("--threads", flags->threads, "Threads for OpenMP and oneDNN")->check(CLI::Range(1, 1024));
    command->add_option("--crop-pct", flags->crop_pct,
                        "Resize the shorter side to size/crop-pct, then centre-crop (timm's crop_pct; 1.0 = no crop; "
                        "default the model's crop_pct, else 0.875)")
        ->check(CLI::Range(0.05f, 1.0f));
    command->add_flag("--json", flags->json, "Print one JSON document instead of a table");
    command->add_flag("--logits", flags->logits, "With --json: include the raw logits of every image");
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
