#include "cli/flags.h"

#include <algorithm>
#include <optional>
#include <sstream>

#include "cli/default_model.h"

namespace sparsifiner {

void ModelFlags::add_to(CLI::App& command, bool required, bool dtype_list) {
    command.add_option("-m,--model", path,
                       required ? "Weight file (.safetensors, see weights/convert.py)"
                                : "Weight file (.safetensors, see weights/convert.py); default the bundled "
                                  "fashion_sparsifiner model, or $SPARSIFINER_MODEL when set")
        ->required(required);
    command.add_option("--num-heads", num_heads, "Override the number of attention heads (files without metadata)")
        ->check(CLI::Range(1, 1024));
    command.add_option("--img-size", img_size,
                       "Input size in pixels, a multiple of the patch size (0: the model's own; pos_embed is "
                       "resized)")
        ->check(CLI::Range(0, 8192));
    if (dtype_list)
        command.add_option("--dtype", dtype,
                           "What the Linear layers compute in: f32 (default) or bf16 (bf16 inputs and weights, f32 "
                           "accumulation; needs avx512_bf16 or AMX), or a comma list run one after the other, e.g. "
                           "f32,bf16");
    else
        command.add_option("--dtype", dtype,
                           "What the Linear layers compute in: f32 (default) or bf16 (bf16 inputs and weights, f32 "
                           "accumulation; needs avx512_bf16 or AMX)")
            ->check(CLI::IsMember({"f32", "bf16"}));
}

std::vector<Dtype> ModelFlags::dtypes() const {
    std::vector<Dtype> list;
    std::stringstream stream(dtype);
    std::string item;
    while (std::getline(stream, item, ',')) {
        const std::optional<Dtype> parsed = dtype_parse(item);
        if (!parsed) throw CommandError(kExitUsage, "--dtype: '" + item + "' is not f32 or bf16");
        const std::string unavailable = dtype_unavailable(*parsed);
        if (!unavailable.empty()) throw CommandError(kExitUsage, unavailable);
        if (std::find(list.begin(), list.end(), *parsed) == list.end()) list.push_back(*parsed);
    }
    if (list.empty()) throw CommandError(kExitUsage, "--dtype: needs f32 or bf16");
    return list;
}

void ModelFlags::use_default_if_absent() {
    if (!path.empty()) return;
    path = default_model_path();
    bundled = true;
}

void AttentionFlags::add_to(CLI::App& command, bool lists) {
    const std::string mask_help =
        "Attention mask source: dense, learned (Sparsifiner weights; their default), oracle (true top-k of q.k), "
        "window (nearest keys on the patch grid); default the model's";
    command.add_option("--mask", mask,
                       lists ? mask_help + ". A comma list times each in the same run, runs interleaved, e.g. dense,learned"
                             : mask_help);
    command.add_option("--keep-rate", keep_rates,
                       "Keys kept per query, as a share of the tokens: one value, or one per block "
                       "(comma-separated); default the model's trained rate (0.25 for oracle/window on DeiT)");
    command.add_option("--prune-at", prune_at, "Blocks (from 0) after whose attention tokens are pruned, e.g. 3,6,9");
    const std::string token_keep_help =
        "Token pruning base rate r: the j-th pruning block keeps ceil(r^j x patches) patch tokens";
    if (lists)
        command.add_option("--token-keep", token_keeps,
                           token_keep_help + ". A comma list (with --prune-at) times each, e.g. 1,0.7 (1: no pruning)");
    else
        command.add_option("--token-keep", token_keep, token_keep_help)->check(CLI::Range(0.0f, 1.0f));
    command.add_option("--budget-rule", budget_rule,
                       "Keys per query after token pruning: official (default; ceil(keep rate x all tokens), "
                       "at most the alive patches, as Sparsifiner models are trained) or alive (ceil(keep rate x "
                       "alive tokens): the keep rate stays the attention density)");
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream stream(text);
    for (std::string item; std::getline(stream, item, ',');) items.push_back(item);
    return items;
}

std::vector<float> token_keep_list(const std::string& text, const std::string& prune_at) {
    if (prune_at.empty()) throw CommandError(kExitUsage, "--token-keep needs --prune-at (the blocks that prune)");
    std::vector<float> rates = parse_list<float>(text, "--token-keep", 0.0f);
    for (float r : rates)
        if (!(r > 0 && r <= 1)) throw CommandError(kExitUsage, "--token-keep: each rate must be in (0, 1]");
    return rates;
}

std::vector<AttentionFlags> AttentionFlags::settings() const {
    std::vector<std::string> masks = split_list(mask);
    if (masks.empty()) masks.push_back("");  // the model's default
    const std::vector<float> rates = token_keeps.empty() ? std::vector<float>{token_keep}
                                                         : token_keep_list(token_keeps, prune_at);
    std::vector<AttentionFlags> out;
    for (const std::string& m : masks) {
        if (m.empty() && masks.size() > 1) throw CommandError(kExitUsage, "--mask: an empty item in the list");
        for (float r : rates) {
            AttentionFlags one = *this;
            one.mask = m;
            if (m == "dense" && masks.size() > 1) one.keep_rates.clear();  // the keep rate is for the others
            one.token_keep = r;
            one.token_keeps.clear();
            if (r == 1.0f && !token_keeps.empty()) one.prune_at.clear();  // 1 in a list: no pruning at all
            out.push_back(one);
        }
    }
    return out;
}

AttentionPlan AttentionFlags::plan_for(const DeitConfig& config) const {
    std::vector<float> rates = keep_rates.empty() ? std::vector<float>() : parse_list<float>(keep_rates, "--keep-rate");
    std::vector<int> blocks;
    if (!prune_at.empty()) blocks = parse_list<int>(prune_at, "--prune-at", 0);
    try {
        return attention_plan_make(config, mask, rates, blocks, token_keep, budget_rule);
    } catch (const std::invalid_argument& e) {
        throw CommandError(kExitUsage, e.what());
    }
}

void RunFlags::add_to(CLI::App& command, unsigned parts) {
    if (parts & kThreads)
        command.add_option("--threads", threads, "Threads for OpenMP and oneDNN")->check(CLI::Range(1, 1024));
    if (parts & kFormat) {
        command.add_option("--format", format, "Output: table, json (one document), csv or md (Markdown table)")
            ->check(CLI::IsMember({"table", "json", "csv", "md"}));
        command.add_flag("--json", json, "Short for --format json");
    }
    if (parts & kProgress) {
        command.add_flag("--quiet", quiet, "No progress on stderr");
        command.add_flag("--progress", progress,
                         "Progress lines on stderr even when it is not a terminal (default: a redrawn line on a "
                         "terminal only)");
    }
}

OutputFormat RunFlags::output_format() const {
    if (json && format != "table" && format != "json")
        throw CommandError(kExitUsage, "--json and --format " + format + " exclude each other");
    if (json || format == "json") return OutputFormat::json;
    if (format == "csv") return OutputFormat::csv;
    if (format == "md") return OutputFormat::md;
    return OutputFormat::table;
}

}  // namespace sparsifiner
