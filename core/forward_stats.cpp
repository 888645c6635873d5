#include "core/forward_stats.h"

namespace sparsifiner {

const char* block_op_name(BlockOp op) {
    switch (op) {
        case BlockOp::ln1: return "ln1";
        case BlockOp::qkv: return "qkv";
        case BlockOp::mask: return "mask";
        case BlockOp::attention: return "attention";
        case BlockOp::proj: return "proj";
        case BlockOp::prune: return "prune";
        case BlockOp::ln2: return "ln2";
        case BlockOp::fc1_gelu: return "fc1_gelu";
        case BlockOp::fc2: return "fc2";
        case BlockOp::count: break;
    }
    return "?";
}

const char* model_op_name(ModelOp op) {
    switch (op) {
        case ModelOp::patch_embed: return "patch_embed";
        case ModelOp::head: return "head";
        case ModelOp::count: break;
    }
    return "?";
}

}  // namespace sparsifiner
