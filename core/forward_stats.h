#pragma once
// What one forward pass did, block by block: tokens alive, keys kept, the predictor's work and,
// when asked, the time of every op. Enough to count its MACs exactly (core/macs.h, SPEC 5) and to
// show where the time went (the profile command).
#include <array>
#include <vector>

#include "core/attention_plan.h"
#include "core/mask_predictor.h"

namespace sparsifiner {

// The timed steps of a block, in order, and of the whole pass.
enum class BlockOp { ln1, qkv, mask, attention, proj, prune, ln2, fc1_gelu, fc2, count };
enum class ModelOp { patch_embed, head, count };
const char* block_op_name(BlockOp op);
const char* model_op_name(ModelOp op);

struct BlockStats {
    MaskSource mask = MaskSource::dense;  // what this block actually ran (dense when k == T)
    int tokens_in = 0;                    // T at the block's input
    int tokens_out = 0;                   // T after pruning (== tokens_in when not pruned here)
    int kept_keys = 0;                    // k per non-cls query row (== tokens_in when dense)
    PredictorCounts predictor;            // summed over the batch; zero unless learned masks ran
    std::array<double, (size_t)BlockOp::count> seconds{};
};

struct ForwardStats {
    bool timed = false;  // fill `seconds` (costs two clock reads per op)
    int batch = 0;
    std::vector<BlockStats> blocks;
    std::array<double, (size_t)ModelOp::count> seconds{};
    double total_seconds = 0;
};

}  // namespace sparsifiner
