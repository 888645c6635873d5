// deit_weights_load on tiny hand-built DeiTs (D=8, H=2, depth 2, patch 4, image 8, 5 classes):
// geometry from metadata or inferred from shapes, every tensor checked by name and shape.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/safetensors_builder.h"
#include "weights/deit_weights.h"

using sparsifiner::DeitConfigOverrides;
using sparsifiner::DeitWeights;
using sparsifiner::SafetensorsFile;
using sparsifiner::WeightFileError;
using sparsifiner_test::SafetensorsBuilder;

namespace {

struct TinyDeit {
    int64_t D = 8, heads = 2, depth = 2, hidden = 16, patch = 4, img = 8, classes = 5, chans = 3;
    bool distilled = false;
    bool metadata = true;
    bool sparsifiner = false;
    int64_t pred_c = 2, pred_K = 2;
    std::set<std::string> skip;                           // tensors left out of the file
    std::map<std::string, std::vector<int64_t>> reshape;  // tensors written with another shape
    std::set<std::string> as_f16;                         // tensors stored as F16
    std::map<std::string, std::string> meta;              // extra or replaced metadata
};

// Builds the file and remembers each tensor's values, so loaded values can be compared.
struct TinyFile {
    SafetensorsBuilder builder;
    std::map<std::string, std::vector<float>> values;
    std::vector<uint8_t> bytes;
};

TinyFile build(const TinyDeit& t) {
    TinyFile file;
    int counter = 0;
    auto add = [&](const std::string& name, std::vector<int64_t> shape) {
        if (t.skip.count(name)) return;
        if (t.reshape.count(name)) shape = t.reshape.at(name);
        int64_t numel = 1;
        for (int64_t dim : shape) numel *= dim;
        std::vector<float> values(static_cast<size_t>(numel));
        counter++;
        // Multiples of 1/64 below 1 are exact in F16 as well, so F16 tensors compare exactly too.
        for (int64_t i = 0; i < numel; i++) {
            values[i] = t.as_f16.count(name) ? static_cast<float>((i + counter) % 64) / 64.0f
                                             : static_cast<float>(counter) + static_cast<float>(i % 100) / 128.0f;
        }
        file.values[name] = values;
        if (t.as_f16.count(name)) {
            std::vector<uint16_t> halves;
            // x/64 for x in 0..63 as binary16 bits, computed from the definition (x = m * 2^e).
            for (float v : values) {
                int x = static_cast<int>(v * 64.0f);
                if (x == 0) {
                    halves.push_back(0);
                    continue;
                }
                int e = 0;
                while ((x << (10 - e)) >= 2048) e++;  // normalise x * 2^(10-e) into [1024, 2048)
                while ((x << (10 - e)) < 1024) e--;
                int mantissa = (x << (10 - e)) - 1024;
                int exponent = e - 6 + 15;  // x/64 = (1 + m/1024) * 2^(e - 6)
                halves.push_back(static_cast<uint16_t>((exponent << 10) | mantissa));
            }
            file.builder.add_u16(name, "F16", shape, halves);
        } else {
            file.builder.add_f32(name, shape, values);
        }
    };
    const int64_t D = t.D, grid = t.img / t.patch, T = grid * grid + (t.distilled ? 2 : 1);
    add("cls_token", {1, 1, D});
    if (t.distilled) add("dist_token", {1, 1, D});
    add("pos_embed", {1, T, D});
    add("patch_embed.proj.weight", {D, t.chans, t.patch, t.patch});
    add("patch_embed.proj.bias", {D});
    for (int64_t i = 0; i < t.depth; i++) {
        std::string p = "blocks." + std::to_string(i) + ".";
        add(p + "norm1.weight", {D});
        add(p + "norm1.bias", {D});
        add(p + "attn.qkv.weight", {3 * D, D});
        add(p + "attn.qkv.bias", {3 * D});
        add(p + "attn.proj.weight", {D, D});
        add(p + "attn.proj.bias", {D});
        if (t.sparsifiner) {
            std::string m = p + "attn.mask_predictor.";
            add(m + "proj_c_q.weight", {t.pred_c, D / t.heads});
            add(m + "proj_c_q.bias", {t.pred_c});
            add(m + "proj_c_k.weight", {t.pred_c, D / t.heads});
            add(m + "proj_c_k.bias", {t.pred_c});
            add(m + "proj_n", {T, t.pred_K});
            add(m + "proj_back_n", {T, t.pred_K});
        }
        add(p + "norm2.weight", {D});
        add(p + "norm2.bias", {D});
        add(p + "mlp.fc1.weight", {t.hidden, D});
        add(p + "mlp.fc1.bias", {t.hidden});
        add(p + "mlp.fc2.weight", {D, t.hidden});
        add(p + "mlp.fc2.bias", {D});
    }
    add("norm.weight", {D});
    add("norm.bias", {D});
    add("head.weight", {t.classes, D});
    add("head.bias", {t.classes});
    if (t.distilled) {
        add("head_dist.weight", {t.classes, D});
        add("head_dist.bias", {t.classes});
    }
    if (t.metadata) {
        file.builder.set_metadata("format", "sparsifiner-deit");
        file.builder.set_metadata("format_version", "1");
        file.builder.set_metadata("embed_dim", std::to_string(t.D));
        file.builder.set_metadata("num_heads", std::to_string(t.heads));
        file.builder.set_metadata("depth", std::to_string(t.depth));
        file.builder.set_metadata("mlp_hidden", std::to_string(t.hidden));
        file.builder.set_metadata("patch_size", std::to_string(t.patch));
        file.builder.set_metadata("img_size", std::to_string(t.img));
        file.builder.set_metadata("in_chans", std::to_string(t.chans));
        file.builder.set_metadata("num_classes", std::to_string(t.classes));
        file.builder.set_metadata("distilled", t.distilled ? "true" : "false");
        file.builder.set_metadata("sparsifiner", t.sparsifiner ? "true" : "false");
    }
    for (const auto& entry : t.meta) file.builder.set_metadata(entry.first, entry.second);
    file.bytes = file.builder.bytes();
    return file;
}

DeitWeights load(const TinyFile& file, const DeitConfigOverrides& overrides = {}) {
    SafetensorsFile parsed = SafetensorsFile::parse(file.bytes.data(), file.bytes.size(), "tiny.safetensors");
    return sparsifiner::deit_weights_load(parsed, overrides);
}

std::string load_error(const TinyDeit& t, const DeitConfigOverrides& overrides = {}) {
    try {
        load(build(t), overrides);
    } catch (const WeightFileError& error) {
        return error.what();
    }
    return "(no error)";
}

TinyDeit without_metadata() {
    TinyDeit t;
    t.metadata = false;
    return t;
}

}  // namespace

TEST_CASE("deit loader: a tiny DeiT with metadata loads, every tensor in its place") {
    TinyDeit t;
    t.meta["class_names"] = R"(["a","b","c","d","e"])";
    t.meta["arch"] = "tiny_test";
    TinyFile file = build(t);
    DeitWeights w = load(file);
    CHECK(w.config.embed_dim == 8);
    CHECK(w.config.num_heads == 2);
    CHECK(w.config.depth == 2);
    CHECK(w.config.mlp_hidden == 16);
    CHECK(w.config.patch_size == 4);
    CHECK(w.config.img_size == 8);
    CHECK(w.config.num_classes == 5);
    CHECK(w.config.tokens() == 5);
    CHECK(w.config.arch == "tiny_test");
    CHECK_FALSE(w.config.distilled);
    CHECK_FALSE(w.config.sparsifiner);
    CHECK(w.config.class_names == std::vector<std::string>{"a", "b", "c", "d", "e"});
    CHECK(w.stored_dtype == "F32");
    CHECK(w.source == "tiny.safetensors");
    CHECK(w.cls_token == file.values["cls_token"]);
    CHECK(w.pos_embed == file.values["pos_embed"]);
    CHECK(w.pos_embed.size() == 5 * 8);
    CHECK(w.patch_w == file.values["patch_embed.proj.weight"]);
    REQUIRE(w.blocks.size() == 2);
    CHECK(w.blocks[1].qkv_w == file.values["blocks.1.attn.qkv.weight"]);
    CHECK(w.blocks[0].fc2_b == file.values["blocks.0.mlp.fc2.bias"]);
    CHECK(w.blocks[1].norm2_w == file.values["blocks.1.norm2.weight"]);
    CHECK(w.head_w == file.values["head.weight"]);
    CHECK(w.head_b == file.values["head.bias"]);
    CHECK(w.blocks[0].proj_n.empty());
    CHECK(w.dist_token.empty());
}

TEST_CASE("deit loader: without metadata the geometry is inferred; heads need the table or an override") {
    CHECK(load_error(without_metadata()) ==
          "tiny.safetensors: __metadata__.num_heads: absent, and embed_dim 8 is not a DeiT size (192, 384, 768): "
          "give --num-heads");
    DeitConfigOverrides overrides;
    overrides.num_heads = 2;
    DeitWeights w = load(build(without_metadata()), overrides);
    CHECK(w.config.embed_dim == 8);
    CHECK(w.config.num_heads == 2);
    CHECK(w.config.depth == 2);
    CHECK(w.config.mlp_hidden == 16);
    CHECK(w.config.patch_size == 4);
    CHECK(w.config.img_size == 8);
    CHECK(w.config.num_classes == 5);
    CHECK_FALSE(w.config.distilled);
    CHECK(w.config.arch == "custom");

    // D = 192 is DeiT-Ti's width: 3 heads from the table.
    TinyDeit wide = without_metadata();
    wide.D = 192;
    wide.depth = 1;
    DeitWeights w192 = load(build(wide));
    CHECK(w192.config.num_heads == 3);
    CHECK(w192.config.head_dim() == 64);

    // An override wins over metadata too.
    TinyDeit with_meta;
    overrides.num_heads = 4;
    CHECK(load(build(with_meta), overrides).config.num_heads == 4);
    overrides.num_heads = 3;
    CHECK(load_error(with_meta, overrides) == "tiny.safetensors: num_heads: 3 heads do not divide embed_dim 8");
}

TEST_CASE("deit loader: inference needs the tensors it infers from, with sane shapes") {
    TinyDeit t = without_metadata();
    t.skip = {"cls_token"};
    CHECK(load_error(t) == "tiny.safetensors: cls_token: missing tensor (needed to infer embed_dim)");
    TinyDeit odd = without_metadata();
    odd.meta["num_heads"] = "2";
    odd.reshape["pos_embed"] = {1, 6, 8};  // 5 patches + cls is not a square grid plus one
    CHECK(load_error(odd) == "tiny.safetensors: pos_embed: 6 tokens is not a square patch grid plus 1 extra tokens");
    TinyDeit flat = without_metadata();
    flat.meta["num_heads"] = "2";
    flat.reshape["cls_token"] = {8};
    CHECK(load_error(flat) ==
          "tiny.safetensors: cls_token: rank 1 shape [8], expected rank 3 (inferring embed_dim)");
}

TEST_CASE("deit loader: a missing tensor is named") {
    TinyDeit t;
    t.skip = {"blocks.1.mlp.fc2.bias"};
    CHECK(load_error(t) == "tiny.safetensors: blocks.1.mlp.fc2.bias: missing tensor");
    TinyDeit no_head;
    no_head.skip = {"head.bias"};
    CHECK(load_error(no_head) == "tiny.safetensors: head.bias: missing tensor");
}

TEST_CASE("deit loader: a wrong shape names both shapes") {
    TinyDeit t;
    t.reshape["patch_embed.proj.weight"] = {8, 3, 2, 2};
    CHECK(load_error(t) == "tiny.safetensors: patch_embed.proj.weight: expected [8, 3, 4, 4], found [8, 3, 2, 2]");
    TinyDeit transposed;
    transposed.reshape["blocks.0.mlp.fc1.weight"] = {8, 16};
    CHECK(load_error(transposed) == "tiny.safetensors: blocks.0.mlp.fc1.weight: expected [16, 8], found [8, 16]");
    // pos_embed must keep its leading 1: [T, D] alone is not accepted.
    TinyDeit squeezed;
    squeezed.reshape["pos_embed"] = {5, 8};
    CHECK(load_error(squeezed) == "tiny.safetensors: pos_embed: expected [1, 5, 8], found [5, 8]");
    // A patch-size override that disagrees with the file is a shape error, not a silent reinterpretation.
    DeitConfigOverrides overrides;
    overrides.patch_size = 2;
    overrides.img_size = 8;
    CHECK(load_error(TinyDeit(), overrides) ==
          "tiny.safetensors: pos_embed: expected [1, 17, 8], found [1, 5, 8]");
}

TEST_CASE("deit loader: an unexplained tensor is an error") {
    TinyFile file = build(TinyDeit());
    file.builder.add_f32("extra.weight", {2}, {1.0f, 2.0f});
    file.bytes = file.builder.bytes();
    try {
        load(file);
        FAIL("loaded a file with an extra tensor");
    } catch (const WeightFileError& error) {
        CHECK(std::string(error.what()) == "tiny.safetensors: extra.weight: unexpected tensor extra.weight");
    }
    // A third block when the metadata says depth 2.
    TinyDeit deeper;
    deeper.depth = 3;
    deeper.meta["depth"] = "2";
    CHECK(load_error(deeper) == "tiny.safetensors: blocks.2.attn.proj.bias: unexpected tensor blocks.2.attn.proj.bias");
}

TEST_CASE("deit loader: distilled models, with and without metadata") {
    TinyDeit t;
    t.distilled = true;
    TinyFile file = build(t);
    DeitWeights w = load(file);
    CHECK(w.config.distilled);
    CHECK(w.config.tokens() == 6);
    CHECK(w.dist_token == file.values["dist_token"]);
    CHECK(w.head_dist_w == file.values["head_dist.weight"]);
    CHECK(w.head_dist_b == file.values["head_dist.bias"]);

    TinyDeit inferred = t;
    inferred.metadata = false;
    inferred.meta["num_heads"] = "2";
    DeitWeights wi = load(build(inferred));
    CHECK(wi.config.distilled);
    CHECK(wi.config.img_size == 8);

    TinyDeit half = t;
    half.skip = {"head_dist.bias"};
    CHECK(load_error(half) == "tiny.safetensors: head_dist.bias: missing tensor");
    TinyDeit claims = TinyDeit();
    claims.meta["distilled"] = "true";
    CHECK(load_error(claims) == "tiny.safetensors: dist_token: missing tensor");
}

TEST_CASE("deit loader: Sparsifiner predictor in every block, or none") {
    TinyDeit t;
    t.sparsifiner = true;
    t.meta["reduce_c_factor"] = "2";
    t.meta["reduce_n_factor"] = "2";
    t.meta["keep_rate"] = "0.5";
    t.meta["basis_coef_topk"] = "2";
    t.meta["basis_threshold"] = "0.05";
    t.meta["prune_at"] = "0,1";
    t.meta["token_keep"] = "0.7";
    TinyFile file = build(t);
    DeitWeights w = load(file);
    CHECK(w.config.sparsifiner);
    CHECK(w.config.predictor_c == 2);
    CHECK(w.config.predictor_K == 2);
    CHECK(w.config.predictor_N == 5);
    CHECK(w.config.keep_rate == 0.5f);
    CHECK(w.config.basis_coef_topk == 2);
    CHECK(w.config.basis_threshold == 0.05f);
    CHECK(w.config.prune_at == std::vector<int>{0, 1});
    CHECK(w.config.token_keep == 0.7f);
    CHECK(w.blocks[1].proj_back_n == file.values["blocks.1.attn.mask_predictor.proj_back_n"]);
    CHECK(w.blocks[0].pred_k_w == file.values["blocks.0.attn.mask_predictor.proj_c_k.weight"]);

    // Without metadata the predictor is detected from the tensors.
    TinyDeit inferred = t;
    inferred.metadata = false;
    inferred.meta = {{"num_heads", "2"}};
    CHECK(load(build(inferred)).config.sparsifiner);

    TinyDeit some = inferred;
    some.skip = {"blocks.1.attn.mask_predictor.proj_n"};
    CHECK(load_error(some) == "tiny.safetensors: blocks.1.attn.mask_predictor.proj_n: missing tensor "
                              "(the predictor must be in every block or none)");
    TinyDeit not_first = inferred;
    for (const char* name : {"proj_c_q.weight", "proj_c_q.bias", "proj_c_k.weight", "proj_c_k.bias", "proj_n",
                             "proj_back_n"}) {
        not_first.skip.insert(std::string("blocks.0.attn.mask_predictor.") + name);
    }
    CHECK(load_error(not_first) == "tiny.safetensors: blocks.0.attn.mask_predictor.proj_c_q.weight: missing tensor "
                                   "(needed to infer the predictor size (the predictor must be in every block or none))");
    // Metadata that says "no predictor" leaves the predictor tensors unexplained.
    TinyDeit denied = t;
    denied.meta["sparsifiner"] = "false";
    CHECK(load_error(denied) == "tiny.safetensors: blocks.0.attn.mask_predictor.proj_back_n: unexpected tensor "
                                "blocks.0.attn.mask_predictor.proj_back_n");
    TinyDeit factor = t;
    factor.meta["reduce_n_factor"] = "3";
    CHECK(load_error(factor) == "tiny.safetensors: __metadata__.reduce_n_factor: 3 gives K = 1, the tensors have K = 2");
    TinyDeit wrong_n = t;
    wrong_n.reshape["blocks.0.attn.mask_predictor.proj_n"] = {197, 2};
    CHECK(load_error(wrong_n) ==
          "tiny.safetensors: blocks.0.attn.mask_predictor.proj_n: trained for 197 tokens, but pos_embed has 5");
}

TEST_CASE("deit loader: malformed metadata values are refused, naming the key") {
    auto with = [](const std::string& key, const std::string& value) {
        TinyDeit t;
        t.meta[key] = value;
        return load_error(t);
    };
    CHECK(with("embed_dim", "abc") == "tiny.safetensors: __metadata__.embed_dim: \"abc\" is not an integer in 1..8192");
    CHECK(with("embed_dim", "0") == "tiny.safetensors: __metadata__.embed_dim: \"0\" is not an integer in 1..8192");
    CHECK(with("embed_dim", "8193") == "tiny.safetensors: __metadata__.embed_dim: \"8193\" is not an integer in 1..8192");
    CHECK(with("embed_dim", " 8") == "tiny.safetensors: __metadata__.embed_dim: \" 8\" is not an integer in 1..8192");
    CHECK(with("embed_dim", "99999999999999999999") ==
          "tiny.safetensors: __metadata__.embed_dim: \"99999999999999999999\" is not an integer in 1..8192");
    CHECK(with("depth", "65") == "tiny.safetensors: __metadata__.depth: \"65\" is not an integer in 1..64");
    CHECK(with("num_heads", "3") == "tiny.safetensors: num_heads: 3 heads do not divide embed_dim 8");
    CHECK(with("img_size", "10") ==
          "tiny.safetensors: __metadata__.img_size: img_size 10 is not a multiple of patch_size 4");
    CHECK(with("patch_size", "65") == "tiny.safetensors: __metadata__.patch_size: \"65\" is not an integer in 1..64");
    CHECK(with("num_classes", "100001") ==
          "tiny.safetensors: __metadata__.num_classes: \"100001\" is not an integer in 1..100000");
    CHECK(with("distilled", "yes") == "tiny.safetensors: __metadata__.distilled: \"yes\" is not true or false");
    CHECK(with("keep_rate", "1.5") == "tiny.safetensors: __metadata__.keep_rate: \"1.5\" is not a number in (0, 1]");
    CHECK(with("keep_rate", "0") == "tiny.safetensors: __metadata__.keep_rate: \"0\" is not a number in (0, 1]");
    CHECK(with("keep_rate", "nan") == "tiny.safetensors: __metadata__.keep_rate: \"nan\" is not a number in (0, 1]");
    CHECK(with("prune_at", "1,0") == "tiny.safetensors: __metadata__.prune_at: values are not strictly increasing");
    CHECK(with("prune_at", "2") == "tiny.safetensors: __metadata__.prune_at: \"2\" is not an integer in 0..1");
    CHECK(with("class_names", R"(["a","b"])") == "tiny.safetensors: __metadata__.class_names: 2 names for 5 classes");
    CHECK(with("class_names", R"(["a",1,"c","d","e"])") ==
          "tiny.safetensors: __metadata__.class_names: not a JSON array of strings (item 1)");
    CHECK(with("class_names", "a,b,c,d,e").rfind("tiny.safetensors: __metadata__.class_names: not a JSON array", 0) == 0);
    CHECK(with("format", "gguf") == "tiny.safetensors: __metadata__.format: \"gguf\" is not sparsifiner-deit");
    CHECK(with("format_version", "2") == "tiny.safetensors: __metadata__.format_version: \"2\" is not an integer in 1..1");
    // A metadata geometry that disagrees with the tensors surfaces as a shape error.
    CHECK(with("mlp_hidden", "32") == "tiny.safetensors: blocks.0.mlp.fc1.weight: expected [32, 8], found [16, 8]");
}

TEST_CASE("deit loader: stored dtype, F16 tensors widened") {
    TinyDeit t;
    t.as_f16 = {"head.weight", "blocks.0.attn.qkv.weight"};
    TinyFile file = build(t);
    DeitWeights w = load(file);
    CHECK(w.stored_dtype == "mixed");
    CHECK(w.head_w == file.values["head.weight"]);
    CHECK(w.blocks[0].qkv_w == file.values["blocks.0.attn.qkv.weight"]);
    CHECK(std::count(w.head_w.begin(), w.head_w.end(), 0.0f) < 2);  // the comparison above is not 0 == 0

    // Every tensor F16: the file is "F16".
    TinyDeit all_half;
    TinyFile probe = build(all_half);
    for (const auto& entry : probe.values) all_half.as_f16.insert(entry.first);
    CHECK(load(build(all_half)).stored_dtype == "F16");
}

TEST_CASE("deit loader: input normalisation and crop_pct, ImageNet's by default for RGB") {
    DeitWeights w = load(build(TinyDeit()));
    CHECK(w.config.in_chans == 3);
    CHECK(w.config.mean == std::vector<float>{0.485f, 0.456f, 0.406f});
    CHECK(w.config.std_dev == std::vector<float>{0.229f, 0.224f, 0.225f});
    CHECK(w.config.crop_pct == 0.875f);

    TinyDeit rgb;  // one value stands for every channel
    rgb.meta["mean"] = "0.5";
    rgb.meta["std"] = "0.1,0.2,0.3";
    rgb.meta["crop_pct"] = "1.0";
    w = load(build(rgb));
    CHECK(w.config.mean == std::vector<float>{0.5f, 0.5f, 0.5f});
    CHECK(w.config.std_dev == std::vector<float>{0.1f, 0.2f, 0.3f});
    CHECK(w.config.crop_pct == 1.0f);

    TinyDeit grey;
    grey.chans = 1;
    grey.meta["mean"] = "0.286";
    grey.meta["std"] = "0.353";
    w = load(build(grey));
    CHECK(w.config.in_chans == 1);
    CHECK(w.patch_w.size() == 8 * 1 * 4 * 4);
    CHECK(w.config.mean == std::vector<float>{0.286f});
    CHECK(w.config.std_dev == std::vector<float>{0.353f});
}

TEST_CASE("deit loader: bad mean, std or crop_pct are refused, naming the key") {
    TinyDeit grey;
    grey.chans = 1;
    grey.meta["std"] = "0.353";
    CHECK(load_error(grey) == "tiny.safetensors: __metadata__.mean: absent: a model with in_chans 1 needs mean and "
                              "std in its metadata (ImageNet's are for RGB)");
    grey.meta["mean"] = "0.2,0.3";
    CHECK(load_error(grey) ==
          "tiny.safetensors: __metadata__.mean: 2 values for in_chans 1 (give one per channel, or one for all)");

    auto error_for = [](const std::string& key, const std::string& value) {
        TinyDeit t;
        t.meta[key] = value;
        return load_error(t);
    };
    CHECK(error_for("mean", "0.1,0.2") ==
          "tiny.safetensors: __metadata__.mean: 2 values for in_chans 3 (give one per channel, or one for all)");
    CHECK(error_for("mean", "nan") == "tiny.safetensors: __metadata__.mean: \"nan\" is not a number in [-1e+06, 1e+06]");
    CHECK(error_for("mean", "0.1,,0.2") == "tiny.safetensors: __metadata__.mean: \"\" is not a number in [-1e+06, 1e+06]");
    CHECK(error_for("std", "0") == "tiny.safetensors: __metadata__.std: \"0\" is not a number in (0, 1e+06]");
    CHECK(error_for("std", "0.2,-0.1,0.3") ==
          "tiny.safetensors: __metadata__.std: \"-0.1\" is not a number in (0, 1e+06]");
    CHECK(error_for("std", "1e999") == "tiny.safetensors: __metadata__.std: \"1e999\" is not a number in (0, 1e+06]");
    CHECK(error_for("crop_pct", "0") == "tiny.safetensors: __metadata__.crop_pct: \"0\" is not a number in (0, 1]");
    CHECK(error_for("crop_pct", "1.5") == "tiny.safetensors: __metadata__.crop_pct: \"1.5\" is not a number in (0, 1]");
}
