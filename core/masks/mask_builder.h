#pragma once
// One interface for every mask source (SPEC 2 and 4): from a block's qkv and its alive tokens,
// the kept keys of every non-cls query row. The forward pass asks the block's MaskBuilder and
// knows nothing of how a source works.
//
// Adding a source: a class implementing MaskBuilder in its own .h/.cpp here, its name in
// MaskSource (core/model/attention_plan: the flag value, `--mask NAME`), and one line in
// mask_builder_make (mask_builders.cpp). The sparse kernel, MACs, profile and the CLI take it
// from there.
#include <cstdint>
#include <memory>

#include "core/masks/mask_predictor.h"
#include "core/model/attention_plan.h"

namespace sparsifiner {

struct MaskInput {
    const float* qkv;          // [B, T, 3, H, d]: the qkv Linear's output for the alive tokens
    int B, T, H, d;
    int budget;                // keys per non-cls query row, below T
    const int32_t* positions;  // [B, T]: each alive token's original index, ascending per image
    bool pruned;               // tokens were pruned before this block: positions differ per image
};

// What a source may report beside its keys (profile): the learned predictor's work and the time
// of its phases. Either pointer may be null (not wanted).
struct MaskReport {
    PredictorCounts* counts = nullptr;
    PredictorSeconds* phases = nullptr;
};

class MaskBuilder {
public:
    virtual ~MaskBuilder() = default;
    // key_index [B, H, T-1, k]: each row's k kept keys, ascending indices into the alive tokens.
    // Returns k.
    virtual int build(const MaskInput& input, int32_t* key_index, const MaskReport& report) = 0;
};

// Where the sources live: the learned one needs the block's predictor (nullptr for plain DeiT
// weights), the window one the patch grid.
struct MaskContext {
    const MaskPredictor* predictor;
    int extra_tokens;  // cls (and dist)
    int grid;          // patches per side at the model's input size
};

// The builder for `source` in one block; nullptr for dense attention (no mask to build).
// Throws std::invalid_argument when the source cannot run here (learned without a predictor).
std::unique_ptr<MaskBuilder> mask_builder_make(MaskSource source, const MaskContext& context);

}  // namespace sparsifiner
