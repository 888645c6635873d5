#pragma once
// The least work each op of a forward pass must do (issue 15): MACs of its products, elements of
// its element-wise parts (selections, softmaxes, LayerNorms, gathers), and the bytes it must move
// at least, with the working set those bytes live in. profile divides these by the measured times
// (achieved rates) and by the machine's roofline (core/model/roofline.h). The models, op by op,
// are in op_work.cpp and docs/usage.md (profile: efficiency against the roofline).
#include "core/model/forward_stats.h"
#include "core/model/macs.h"
#include "weights/deit_weights.h"

namespace sparsifiner {

// Per timed pass (the whole batch).
struct OpWork {
    double macs = 0;      // multiply-accumulates of its products
    double elements = 0;  // its element-wise inputs (what `elements_of` names); 0 when it has none
    const char* elements_of = "";
    double bytes = 0;      // read and written at least, each byte once unless the model says otherwise
    double footprint = 0;  // bytes one unit of its work (a row, a head, an image) keeps in use: picks the level
    OpWork& operator+=(const OpWork& other);
};

// What an op of block `stats` did, for a batch of B images; `macs` is forward_macs' block.
OpWork block_op_work(BlockOp op, const DeitConfig& config, const BlockStats& stats, const BlockMacs& macs, int B);
OpWork sub_op_work(SubOp op, const DeitConfig& config, const BlockStats& stats, const BlockMacs& macs, int B);
// patch_embed and head; tokens0 = tokens at the first block (patches + extra tokens).
OpWork model_op_work(ModelOp op, const DeitConfig& config, const ForwardMacs& macs, int tokens0, int B);

}  // namespace sparsifiner
