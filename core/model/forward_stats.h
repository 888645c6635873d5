#pragma once
// What one forward pass did, block by block: tokens alive, keys kept, the predictor's work and,
// when asked, the time of every op. Enough to count its MACs exactly (core/macs.h, SPEC 5) and to
// show where the time went (the profile command).
#include <array>
#include <vector>

#include "core/model/attention_plan.h"
#include "core/masks/mask_predictor.h"

namespace sparsifiner {

// The timed steps of a block, in order, and of the whole pass.
enum class BlockOp { ln1, qkv, mask, attention, proj, prune, ln2, fc1_gelu, fc2, count };
enum class ModelOp { patch_embed, head, count };
const char* block_op_name(BlockOp op);
const char* model_op_name(ModelOp op);

// The parts of `mask` and `attention` (issue 5). Which ones a block has depends on what it ran:
// the learned predictor's phases (PredictorPhase), the oracle's scores with their top-k (`topk`),
// the window pattern (`pattern`), or dense attention's three oneDNN primitives. Sparse attention
// is one fused kernel (q k, softmax and p v per query row) and has none.
enum class SubOp { alive_slice, qc, kc, kl, cheap, coef_topk, coef_basis, key_topk, topk, pattern, qk, softmax, pv, count };
const char* sub_op_name(SubOp op);
BlockOp sub_op_parent(SubOp op);                   // mask or attention
bool sub_op_applies(SubOp op, MaskSource mask);    // a block that ran `mask` (BlockStats::mask) has it
SubOp sub_op_of(PredictorPhase phase);

struct BlockStats {
    MaskSource mask = MaskSource::dense;  // what this block actually ran (dense when k == T)
    int tokens_in = 0;                    // T at the block's input
    int tokens_out = 0;                   // T after pruning (== tokens_in when not pruned here)
    int kept_keys = 0;                    // k per non-cls query row (== tokens_in when dense)
    PredictorCounts predictor;            // summed over the batch; zero unless learned masks ran
    std::array<double, (size_t)BlockOp::count> seconds{};
    // Within seconds[mask] and seconds[attention]: their parts, filled only when timed.
    std::array<double, (size_t)SubOp::count> sub_seconds{};
};

struct ForwardStats {
    bool timed = false;  // fill `seconds` (costs two clock reads per op)
    int batch = 0;
    std::vector<BlockStats> blocks;
    std::array<double, (size_t)ModelOp::count> seconds{};
    double total_seconds = 0;
};

}  // namespace sparsifiner
