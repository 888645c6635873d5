// sparsifiner visualize: attention masks as pictures. One query's kept keys as heat on the
// photo (or every head of a layer with --grid), the tokens that survive pruning (--tokens), or
// the learned basis rows of the predictor (--basis).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/output_file.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/model_open.h"
#include "cli/image_inputs.h"
#include "cli/visualize_draw.h"
#include "cli/visualize_figure.h"
#include "cli/visualize_font.h"
#include "cli/visualize_maps.h"
#include "core/model/deit_model.h"
#include "image/image.h"
#include "image/image_write.h"

namespace sparsifiner {

namespace {

constexpr int kPanelGap = 2;       // px between panels, and between a panel and its note strip
constexpr int kBasisColumns = 8;   // basis panels per row
constexpr int kBasisMinPanel = 112;  // px: the default --basis scale makes panels at least this big

struct VisualizeFlags {
    ModelFlags model;
    AttentionFlags attention;
    std::string image;
    std::string output;
    int layer = -1;
    int head = 0;
    std::string query;
    bool grid = false, tokens = false, basis = false;
    int scale = 0;  // 0 = chosen per picture
    int threads = 1;
    float crop_pct = 0;  // 0 = the model's
};

// The preprocessed crop the model sees (SPEC 6) as RGB (grey for a 1-channel model), and the
// same normalised for the model.
RgbImage crop_load(const std::string& path, int size, const ImagePreprocess& preprocess, std::vector<float>* normalised) {
    try {
        std::vector<float> scratch;
        std::vector<float>& out = normalised ? *normalised : scratch;
        out.resize((size_t)preprocess.channels * size * size);
        return image_prepare(image_load(path), size, preprocess, out.data());
    } catch (const ImageError& e) {
        throw CommandError(kExitSomeInputsFailed, e.what());
    }
}

// "97" (a token index: 0 = cls, then the extra tokens, then patches in raster order) or
// "row,col" of the patch grid -> the token index.
int query_parse(const std::string& text, int tokens, int extra, int grid) {
    const size_t comma = text.find(',');
    try {
        size_t used = 0;
        if (comma == std::string::npos) {
            const int t = std::stoi(text, &used);
            if (used == text.size() && t >= 0 && t < tokens) return t;
        } else {
            const std::string a = text.substr(0, comma), b = text.substr(comma + 1);
            size_t used_b = 0;
            const int row = std::stoi(a, &used), col = std::stoi(b, &used_b);
            if (used == a.size() && used_b == b.size() && row >= 0 && row < grid && col >= 0 && col < grid)
                return extra + row * grid + col;
        }
    } catch (const std::exception&) {
    }
    throw CommandError(kExitUsage, "--query '" + text + "': give a token index from 0 to " + std::to_string(tokens - 1) +
                                       " (0 = cls) or row,col of the " + std::to_string(grid) + "x" +
                                       std::to_string(grid) + " patch grid");
}

void picture_write(const std::string& path, const RgbImage& picture) {
    try {
        const std::vector<uint8_t> png = image_encode_png(picture, path);
        output_file_write(path, std::string(png.begin(), png.end()));
    } catch (const OutputError& e) {
        throw CommandError(kExitRuntimeError, e.what());
    } catch (const ImageError& e) {
        throw CommandError(kExitRuntimeError, e.what());
    }
}

void layer_check(const VisualizeFlags& flags, int depth) {
    if (flags.layer < 0) throw CommandError(kExitUsage, "--layer is required (a block from 0 to " + std::to_string(depth - 1) + ")");
    if (flags.layer >= depth)
        throw CommandError(kExitUsage, "--layer " + std::to_string(flags.layer) + " is out of range: the model has blocks 0 to " +
                                           std::to_string(depth - 1));
}

// The last part of a path as the title shows it (a non-ASCII character as one '?').
std::string file_name(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return text_printable(slash == std::string::npos ? path : path.substr(slash + 1));
}

// The model as the title names it: the file name without ".safetensors", which every weight
// file has and which would push the name past the width of a small picture.
std::string model_title(const std::string& path) {
    const std::string name = file_name(path), ext = ".safetensors";
    const bool has_ext = name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
    return "model " + (has_ext ? name.substr(0, name.size() - ext.size()) : name);
}

// 3 significant digits: enough to read a weight off a picture.
std::string number_text(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", v);
    return text;
}

// "keep 0.25", or the list when blocks differ.
std::string keep_rates_text(const std::vector<float>& rates) {
    std::string text;
    for (float r : rates) text += (text.empty() ? "" : ",") + number_text(r);
    const bool same = std::all_of(rates.begin(), rates.end(), [&](float r) { return r == rates[0]; });
    return "keep " + (same && !rates.empty() ? number_text(rates[0]) : text);
}

// The shade of a key not kept (or a basis entry at most the threshold): the grey
// patch_heat_panel gives a mid-grey photo, or black without one.
Rgb dropped_swatch(bool photo, float factor) {
    const uint8_t v = photo ? (uint8_t)std::lround(128 * factor) : 0;
    return {v, v, v};
}

// --basis: K panels, one per thresholded basis row, each a map over the patch grid.
int basis_run(const VisualizeFlags& flags, const DeitWeights& weights) {
    const DeitConfig& c = weights.config;
    if (!c.sparsifiner)
        throw CommandError(kExitUsage, "--basis needs Sparsifiner weights: " + flags.model.path +
                                           " is a plain DeiT model (no mask predictor)");
    layer_check(flags, c.depth);
    const int N = c.predictor_N, K = c.predictor_K, extra = c.extra_tokens();
    const int grid = (int)std::lround(std::sqrt((double)(N - extra)));
    if (grid * grid != N - extra)
        throw CommandError(kExitModelError, flags.model.path + ": proj_back_n has " + std::to_string(N) +
                                                " tokens, not a square patch grid plus " + std::to_string(extra));
    RgbImage crop;
    if (!flags.image.empty()) crop = crop_load(flags.image, grid * c.patch_size, preprocess_for(c, flags.crop_pct), nullptr);
    const std::vector<float> basis =
        basis_rows(weights.blocks[flags.layer].proj_back_n, N, K, c.basis_threshold);
    // By default each panel is at least kBasisMinPanel px, so that its number box hides little of
    // it: a 28 px crop (the bundled models) at 1x made 28 px panels, mostly label. Without a photo
    // a panel is grid * 16 px per unit of scale (patch_heat_panel).
    const int unscaled = crop.pixels.empty() ? grid * 16 : crop.width;
    const int scale = flags.scale > 0 ? flags.scale : std::max(1, (kBasisMinPanel + unscaled - 1) / unscaled);
    std::vector<RgbImage> panels;
    int empty_rows = 0;
    for (int k = 0; k < K; k++) {
        const float* row = basis.data() + (size_t)k * N + extra;  // the extra tokens have no place on the grid
        float top = 0;
        for (int i = 0; i < grid * grid; i++) top = std::max(top, row[i]);
        if (top == 0) empty_rows++;
        // Each row on its own scale: the shape of a basis map is what matters, not its height.
        std::vector<float> cells(grid * grid);
        for (int i = 0; i < grid * grid; i++) cells[i] = row[i] > 0 ? row[i] / top : kPatchDropped;
        panels.push_back(patch_heat_panel(crop, grid, scale, cells));
        panel_label(panels.back(), std::to_string(k));
    }
    FigureText text;
    text.title = {model_title(flags.model.path), "layer " + std::to_string(flags.layer),
                  "predictor basis: " + std::to_string(K) + " rows on the " + std::to_string(grid) + "x" +
                      std::to_string(grid) + " patches",
                  "threshold " + number_text(c.basis_threshold), flags.image.empty() ? "" : file_name(flags.image)};
    text.caption = "colour: |basis weight| / the largest in its row; panel n is basis row n";
    text.ticks = {{0, "0"}, {1, "1"}, {0.5f, "0.5"}, {0.25f, "0.25"}, {0.75f, "0.75"}};
    text.key = {{dropped_swatch(!crop.pixels.empty(), 0.35f), false, "at most the threshold"}};
    const RgbImage picture = figure_compose(panels_tile(panels, kBasisColumns, kPanelGap), text);
    picture_write(flags.output, picture);
    std::printf("%s: %dx%d, basis of block %d: %d rows (panels) over the %dx%d patch grid, threshold %g, %d rows "
                "empty after thresholding\n",
                flags.output.c_str(), picture.width, picture.height, flags.layer, K, grid, grid, c.basis_threshold,
                empty_rows);
    return kExitOk;
}

// One panel: the query's kept keys as heat (sqrt of p / the largest p on a patch, so that the
// long tail stays visible), keys not kept dimmed, pruned tokens darker, the query outlined, and
// a note strip with the cls key's weight (its square on the same colour scale) and the scale's top.
RgbImage query_panel(const RgbImage& crop, const std::vector<float>& weight, int query, int extra, int grid,
                     int scale, int patch) {
    float top = 0;
    for (int i = 0; i < grid * grid; i++) top = std::max(top, weight[extra + i]);
    std::vector<float> cells(grid * grid);
    for (int i = 0; i < grid * grid; i++) {
        const float w = weight[extra + i];
        cells[i] = w >= 0 ? (top > 0 ? std::sqrt(w / top) : 0.0f) : (w == -1.0f ? kPatchDropped : kPatchPruned);
    }
    RgbImage panel = patch_heat_panel(crop, grid, scale, cells);
    const int cell_px = patch * scale;
    if (query >= extra)
        cell_outline(panel, (query - extra) / grid, (query - extra) % grid, cell_px, std::max(2, scale), kOutlineColour);
    const bool cls_kept = weight[0] >= 0;
    const Rgb cls_colour = cls_kept ? heat_colour(top > 0 ? std::sqrt(weight[0] / top) : 1.0f) : dropped_swatch(true, 0.35f);
    const std::string note =
        (cls_kept ? "cls p=" + number_text(weight[0]) : std::string("cls not kept")) + ", max p=" + number_text(top);
    return panel_note_append(panel, cls_colour, note, kPanelGap);
}

// What the heat of a query panel means, with ticks at round values of p / max p placed on the
// square-root ramp.
FigureText query_figure_text() {
    FigureText text;
    text.caption = "colour: attention weight p / max p over the patches (square-root scale); the square below "
                   "a panel: the cls key";
    text.ticks = {{0, "0"}, {1, "1"}, {0.5f, "0.25"}, {std::sqrt(0.1f), "0.1"}, {std::sqrt(0.5f), "0.5"}};
    return text;
}

int kept_count(const std::vector<float>& weight) {
    int n = 0;
    for (float w : weight) n += w >= 0;
    return n;
}

int attention_run(const VisualizeFlags& flags, const DeitWeights& weights) {
    const DeitConfig& c = weights.config;
    if (!flags.tokens) layer_check(flags, c.depth);
    if (!flags.tokens && !flags.grid && (flags.head < 0 || flags.head >= c.num_heads))
        throw CommandError(kExitUsage, "--head " + std::to_string(flags.head) + " is out of range: the model has heads 0 to " +
                                           std::to_string(c.num_heads - 1));
    if (flags.image.empty()) throw CommandError(kExitUsage, "an image is required (only --basis works without one)");
    std::unique_ptr<DeitModel> model = model_build(weights, flags.model, flags.attention);
    const int S = model->img_size(), P = c.patch_size, grid = S / P, extra = c.extra_tokens();
    const int tokens = model->tokens(), H = c.num_heads, d = c.head_dim();
    const AttentionPlan& plan = model->attention_plan();
    if (flags.tokens) {
        if (plan.prune_at.empty())
            throw CommandError(kExitUsage, "--tokens needs token pruning: give --prune-at (and --token-keep), or a model "
                                           "trained with it");
        for (int l : plan.prune_at)
            if (l >= c.depth - 1)
                throw CommandError(kExitUsage, "--tokens: pruning at the last block (" + std::to_string(l) +
                                                   ") changes no later block, nothing to show");
    }
    const int query = flags.tokens ? 0
                      : flags.query.empty() ? extra + (grid / 2) * grid + grid / 2  // the centre patch
                                            : query_parse(flags.query, tokens, extra, grid);

    std::vector<float> input;
    const RgbImage crop = crop_load(flags.image, S, preprocess_for(c, flags.crop_pct), &input);
    // Image 0 of block `layer` (every block for --tokens); B is 1 here.
    std::vector<BlockCapture> capture(c.depth);
    ForwardObserver observer;
    const int layer = flags.layer;
    observer.qkv = [&](int block, const float* qkv, int B, int T) {
        if (block == layer) capture[block].qkv.assign(qkv, qkv + (size_t)T * 3 * H * d);
    };
    observer.masks = [&](int block, const int32_t* key_index, const int32_t* positions, int B, int heads, int T, int k) {
        BlockCapture& b = capture[block];
        b.T = T;
        b.positions.assign(positions, positions + T);
        b.k = key_index ? k : 0;
        if (key_index && block == layer) b.key_index.assign(key_index, key_index + (size_t)heads * (T - 1) * k);
    };
    std::vector<float> logits(c.num_classes);
    model->forward(input.data(), 1, logits.data(), &observer);
    // The default upscale also makes the picture readable: at least 256 px on the short side (a
    // 28 px Fashion-MNIST crop at 3x was 84 px). An explicit --scale is taken as given.
    const int readable = std::min(16, (256 + S - 1) / S);
    const int scale = flags.scale > 0 ? flags.scale : std::max(flags.grid || flags.tokens ? 2 : 3, readable);

    if (flags.tokens) {
        // The photo, then after each pruning block the tokens that go on (the next block's input).
        std::vector<RgbImage> panels;
        panels.push_back(patch_heat_panel(crop, grid, scale, std::vector<float>(grid * grid, kPatchPlain)));
        panel_label(panels.back(), "input: " + std::to_string(grid * grid));
        std::string counts, blocks;
        for (int l : plan.prune_at) {
            std::vector<float> cells(grid * grid, kPatchPruned);
            int alive = 0;
            for (int p : capture[l + 1].positions)
                if (p >= extra) cells[p - extra] = kPatchPlain, alive++;
            panels.push_back(patch_heat_panel(crop, grid, scale, cells));
            panel_label(panels.back(), "after " + std::to_string(l) + ": " + std::to_string(alive));
            counts += (counts.empty() ? "" : ", ") + std::to_string(alive) + " after block " + std::to_string(l);
            blocks += (blocks.empty() ? "" : ",") + std::to_string(l);
        }
        FigureText text;
        text.title = {model_title(flags.model.path), file_name(flags.image), std::string("mask ") + mask_source_name(plan.mask),
                      plan.mask == MaskSource::dense ? "" : keep_rates_text(plan.keep_rate), "prune at " + blocks, "token keep " + number_text(plan.token_keep)};
        text.caption = "panels: the input, then the patch tokens left after each pruning block, with their count";
        text.key = {{dropped_swatch(true, 0.12f), false, "pruned token"}};
        const RgbImage picture = figure_compose(panels_tile(panels, (int)panels.size(), kPanelGap), text);
        picture_write(flags.output, picture);
        std::printf("%s: %dx%d, %zu panels: the input (%d patches), then the patches kept: %s\n", flags.output.c_str(),
                    picture.width, picture.height, panels.size(), grid * grid, counts.c_str());
        return kExitOk;
    }

    const BlockCapture& block = capture[layer];
    const std::string where = query >= extra ? " (patch row " + std::to_string((query - extra) / grid) + ", col " +
                                                   std::to_string((query - extra) % grid) + ")"
                                             : query == 0 ? " (cls)" : " (dist)";
    const std::string title_where = query >= extra ? " (row " + std::to_string((query - extra) / grid) + ", col " +
                                                         std::to_string((query - extra) % grid) + ")"
                                                   : where;
    std::vector<RgbImage> panels;
    std::string kept;
    bool any_pruned = false;
    for (int h = flags.grid ? 0 : flags.head; h < (flags.grid ? H : flags.head + 1); h++) {
        const std::vector<float> weight = query_key_weights(block, query, h, H, d, tokens);
        if (weight.empty())
            throw CommandError(kExitUsage, "--query " + std::to_string(query) + where + " was pruned before block " +
                                               std::to_string(layer) + ": pick a token that is still alive");
        panels.push_back(query_panel(crop, weight, query, extra, grid, scale, P));
        if (flags.grid) panel_label(panels.back(), "head " + std::to_string(h));
        kept += (kept.empty() ? "" : ",") + std::to_string(kept_count(weight));
        any_pruned |= std::find(weight.begin(), weight.end(), -2.0f) != weight.end();
    }
    FigureText text = query_figure_text();
    const std::string mask = block.k == 0 ? "dense" : mask_source_name(plan.mask);
    text.title = {model_title(flags.model.path), file_name(flags.image), "layer " + std::to_string(layer),
                  flags.grid ? "heads 0-" + std::to_string(H - 1) : "head " + std::to_string(flags.head),
                  "query " + std::to_string(query) + title_where, "mask " + mask,
                  block.k == 0 ? "" : "keep " + number_text(plan.keep_rate[layer]),
                  kept + " of " + std::to_string(block.T) + " keys"};  // the cls query keeps them all
    text.key = {{dropped_swatch(true, 0.35f), false, "key not kept"}};
    if (any_pruned) text.key.push_back({dropped_swatch(true, 0.12f), false, "pruned token"});
    if (query >= extra) text.key.push_back({kOutlineColour, true, "query"});
    const RgbImage picture = figure_compose(panels_tile(panels, (int)panels.size(), kPanelGap), text);
    picture_write(flags.output, picture);
    std::printf("%s: %dx%d, block %d, %s, query %d%s, mask %s, keys kept %s of %d alive tokens\n",
                flags.output.c_str(), picture.width, picture.height, layer,
                flags.grid ? ("heads 0-" + std::to_string(H - 1)).c_str() : ("head " + std::to_string(flags.head)).c_str(),
                query, where.c_str(), mask.c_str(), kept.c_str(), block.T);
    return kExitOk;
}

// The picture is written as PNG only: a .jpg name holding PNG bytes would mislead every viewer
// that trusts the extension, so any other name is refused before the work.
void output_name_check(const std::string& path) {
    // A device or a pipe (/dev/null, /dev/stdout) takes the PNG bytes as they are.
    struct stat info;
    if (stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode) && !S_ISDIR(info.st_mode)) return;
    std::string ext = path.size() >= 4 ? path.substr(path.size() - 4) : "";
    for (char& ch : ext) ch = (char)std::tolower((unsigned char)ch);
    if (ext != ".png")
        throw CommandError(kExitUsage, "-o " + path + ": visualize writes PNG only; give a name ending in .png");
}

int visualize_run(const VisualizeFlags& flags) {
    output_name_check(flags.output);
    output_path_check(flags.output);
    threads_apply(flags.threads);
    const DeitWeights weights = model_load(flags.model);
    return flags.basis ? basis_run(flags, weights) : attention_run(flags, weights);
}

}  // namespace

Command visualize_command(CLI::App& app) {
    auto flags = std::make_shared<VisualizeFlags>();
    CLI::App* command = app.add_subcommand(
        "visualize",
        "Draw attention masks on the image: the keys one query attends to (heat = attention probability), all heads "
        "(--grid), the tokens that survive pruning (--tokens), or the predictor's basis (--basis). PNG output, with a "
        "title, a colour bar with its scale and numbered panels");
    flags->model.add_to(*command, false);
    flags->attention.add_to(*command);
    command->add_option("image", flags->image, "The image (JPEG, PNG, BMP, TGA, GIF, PNM); optional with --basis");
    command->add_option("-o,--output", flags->output, "The PNG to write (the name must end in .png)")->required();
    command->add_option("--layer", flags->layer,
                        "REQUIRED except with --tokens: the block (from 0) whose attention or basis is drawn");
    auto* head = command->add_option("--head", flags->head, "Attention head (default 0)");
    command->add_option("--query", flags->query,
                        "Query token: index (0 = cls, then patches in raster order) or row,col of the patch grid "
                        "(default: the centre patch)");
    auto* grid = command->add_flag("--grid", flags->grid, "All heads of the layer side by side");
    auto* tokens = command->add_flag("--tokens", flags->tokens,
                                     "The photo, then the patch tokens that survive each pruning block");
    auto* basis = command->add_flag("--basis", flags->basis,
                                    "The thresholded basis rows of the layer's predictor (SPEC 2 step 5), one heat "
                                    "map per row (Sparsifiner weights)");
    grid->excludes(tokens)->excludes(basis)->excludes(head);
    tokens->excludes(basis)->excludes(head);
    basis->excludes(head);
    command->add_option("--scale", flags->scale,
                        "Upscale the crop this many times (default 3 for one query, 2 for --grid and --tokens, or "
                        "more so that the crop is at least 256 px; for --basis enough for panels of at least 112 px)")
        ->check(CLI::Range(1, 16));
    command->add_option("--threads", flags->threads, "Threads for OpenMP and oneDNN")->check(CLI::Range(1, 1024));
    command->add_option("--crop-pct", flags->crop_pct,
                        "Resize the shorter side to size/crop-pct, then centre-crop (as classify; default the "
                        "model's crop_pct)")
        ->check(CLI::Range(0.05f, 1.0f));
    return {command, [flags] {
                flags->model.use_default_if_absent();
                return visualize_run(*flags);
            }};
}

}  // namespace sparsifiner
