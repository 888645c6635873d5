// sparsifiner info: what a weight file holds: geometry, parameters, MACs, stored dtype.
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/model_open.h"
#include "cli/report_table.h"
#include "core/model/macs.h"

namespace sparsifiner {

namespace {

struct InfoFlags {
    ModelFlags model;
    RunFlags run;  // --format only
};

std::string printed(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string printed(const char* format, ...) {
    char text[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    return text;
}

// 4.608 G, or 62.92 M for the small models (three decimals of G would hide them).
std::string macs_text(double macs) {
    char text[32];
    if (macs >= 1e9) std::snprintf(text, sizeof text, "%.3f G", macs / 1e9);
    else std::snprintf(text, sizeof text, "%.2f M", macs / 1e6);
    return text;
}

// "top-1 on <data>: dense 90.12%, learned@0.25 89.80%, ..." from `evaluation` ("" for none).
std::string recorded_top1(const nlohmann::json& evaluation) {
    if (!evaluation.contains("top1") || !evaluation["top1"].is_object()) return "";
    std::string line;
    for (const auto& [setting, top1] : evaluation["top1"].items()) {
        if (!top1.is_number()) continue;
        char value[32];
        std::snprintf(value, sizeof value, " %.2f%%", 100.0 * top1.get<double>());
        line += (line.empty() ? "" : ",") + (" " + setting) + value;
    }
    std::string data = evaluation.contains("data") && evaluation["data"].is_string()
                           ? " on " + evaluation["data"].get<std::string>() : "";
    return "top-1" + data + ":" + line;
}

int info_run(const InfoFlags& flags) {
    const OutputFormat format = flags.run.output_format();
    const Dtype dtype = flags.model.dtype_one();  // a refused bf16 fails before the file is read
    DeitWeights weights = model_load(flags.model);
    const DeitConfig& c = weights.config;
    const int S = flags.model.img_size > 0 ? flags.model.img_size : c.img_size;
    const int grid = S / c.patch_size, tokens = grid * grid + c.extra_tokens();
    const DeitMacs macs = deit_dense_macs(c, S);
    const double params = deit_parameter_count(c);

    nlohmann::json model = {
        {"file", flags.model.path},     {"arch", c.arch},
        {"embed_dim", c.embed_dim},     {"num_heads", c.num_heads},
        {"head_dim", c.head_dim()},     {"depth", c.depth},
        {"mlp_hidden", c.mlp_hidden},   {"patch_size", c.patch_size},
        {"trained_img_size", c.img_size}, {"img_size", S},
        {"tokens", tokens},             {"num_classes", c.num_classes},
        {"distilled", c.distilled},     {"sparsifiner", c.sparsifiner},
        {"stored_dtype", weights.stored_dtype}, {"parameters", params},
        {"label_set", c.label_set},
        {"in_chans", c.in_chans},       {"mean", c.mean},
        {"std", c.std_dev},             {"crop_pct", c.crop_pct}};
    if (c.sparsifiner)
        model["predictor"] = {{"c", c.predictor_c}, {"K", c.predictor_K}, {"trained_tokens", c.predictor_N},
                              {"keep_rate", c.keep_rate}, {"basis_coef_topk", c.basis_coef_topk},
                              {"basis_threshold", c.basis_threshold}, {"prune_at", c.prune_at},
                              {"token_keep", c.token_keep}};
    // What its maker measured and recorded in the file (weights/METADATA.md `evaluation`).
    if (!c.evaluation.empty()) model["evaluation"] = nlohmann::json::parse(c.evaluation);
    nlohmann::json macs_json = {{"unit", "macs"},
                                {"total", macs.total()},
                                {"patch_embed", macs.patch_embed},
                                {"per_block", {{"qkv", macs.block.qkv}, {"qk", macs.block.qk},
                                               {"pv", macs.block.pv}, {"proj", macs.block.proj},
                                               {"fc1", macs.block.fc1}, {"fc2", macs.block.fc2}}},
                                {"attention_qk_pv", macs.attention_products()},
                                {"head", macs.head},
                                {"layernorm_elements", macs.layernorm_elements},
                                {"total_with_layernorm", macs.total_with_layernorm()}};
    // A Sparsifiner file: what one image costs at the keep rate (and pruning) it was trained with.
    ForwardMacs trained{};
    if (c.sparsifiner) {
        std::vector<long long> basis_nnz;
        for (const DeitBlockWeights& block : weights.blocks) {
            long long nnz = 0;
            for (float v : block.proj_back_n) nnz += std::fabs(v) > c.basis_threshold;
            basis_nnz.push_back(nnz);
        }
        trained = planned_macs(c, attention_plan_default(c), basis_nnz, S);
        macs_json["trained_keep_rate"] = {
            {"keep_rate", c.keep_rate}, {"prune_at", c.prune_at}, {"token_keep", c.token_keep},
            {"total", trained.total()}, {"mhsa", trained.mhsa()},
            {"coef_basis", "estimated: basis_coef_topk basis rows of mean non-zero count per query row"}};
    }
    if (format == OutputFormat::json) {
        nlohmann::json document = json_document("info");
        document["dtype"] = dtype_name(dtype);
        document["model"] = model;
        document["macs"] = macs_json;
        std::printf("%s\n", json_text(document).c_str());
        return kExitOk;
    }
    // The text, CSV and Markdown forms: one (field, value) row per line of the text form.
    Table t;
    t.columns = {"field", "value"};
    t.add({"file", flags.model.path});
    t.add({"arch", c.arch + (c.distilled ? " (distilled)" : "") + (c.sparsifiner ? " (sparsifiner)" : "")});
    t.add({"geometry", printed("D=%d H=%d d=%d depth=%d mlp=%d patch=%d", c.embed_dim, c.num_heads, c.head_dim(),
                               c.depth, c.mlp_hidden, c.patch_size)});
    t.add({"input", printed("%dx%d (trained at %d), %d tokens, %s, crop_pct %g", S, S, c.img_size, tokens,
                            c.in_chans == 1 ? "grey" : c.in_chans == 3 ? "RGB"
                                                      : (std::to_string(c.in_chans) + " channels").c_str(),
                            c.crop_pct)});
    t.add({"classes", std::to_string(c.num_classes) + (c.label_set.empty() ? "" : " (" + c.label_set + ")")});
    t.add({"parameters", printed("%.3f M (stored as %s)", params / 1e6, weights.stored_dtype.c_str())});
    t.add({"compute dtype", dtype == Dtype::bf16 ? "bf16 (Linear layers: bf16 inputs and weights, f32 accumulation; "
                                                   "LayerNorm, softmax, GELU, attention, residual stream f32)"
                                                 : "f32"});
    t.add({"MACs", printed("%s per image (q k + p v: %s); with LayerNorm as fvcore counts it: %s",
                           macs_text(macs.total()).c_str(), macs_text(macs.attention_products()).c_str(),
                           macs_text(macs.total_with_layernorm()).c_str())});
    if (c.sparsifiner) {
        t.add({"MACs trained", printed("%s per image at keep rate %.3g%s (MHSA %s; coef x basis estimated)",
                                       macs_text(trained.total()).c_str(), c.keep_rate,
                                       c.prune_at.empty() ? "" : " with token pruning", macs_text(trained.mhsa()).c_str())});
        t.add({"predictor", printed("c=%d K=%d keep_rate=%.3g basis_coef_topk=%d basis_threshold=%.3g", c.predictor_c,
                                    c.predictor_K, c.keep_rate, c.basis_coef_topk, c.basis_threshold)});
    }
    if (model.contains("evaluation")) {
        const std::string recorded = recorded_top1(model["evaluation"]);
        if (!recorded.empty()) t.add({"recorded", recorded});
    }
    if (format != OutputFormat::table) {
        table_print(t, format);
        return kExitOk;
    }
    for (const auto& row : t.rows) std::printf("%-13s %s\n", row[0].c_str(), table_text(row[1]).c_str());
    return kExitOk;
}

}  // namespace

Command info_command(CLI::App& app) {
    auto flags = std::make_shared<InfoFlags>();
    CLI::App* command = app.add_subcommand(
        "info", "Show a weight file's geometry, parameter count, MACs and dtype.\nMACs count matrix products and the "
                "patch convolution only (DeiT-S at 224: 4.599 G); fvcore's default rules also count LayerNorm, 5 per "
                "element (4.608 G), shown beside it");
    flags->model.add_to(*command, false);
    flags->run.add_to(*command, RunFlags::kFormat);
    return {command, [flags] {
                flags->model.use_default_if_absent();
                return info_run(*flags);
            }};
}

}  // namespace sparsifiner
