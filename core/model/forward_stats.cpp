#include "core/model/forward_stats.h"

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

const char* sub_op_name(SubOp op) {
    switch (op) {
        case SubOp::alive_slice: return "alive_slice";
        case SubOp::qc: return "qc";
        case SubOp::kc: return "kc";
        case SubOp::kl: return "kl";
        case SubOp::cheap: return "cheap";
        case SubOp::coef_topk: return "coef_topk";
        case SubOp::coef_basis: return "coef_basis";
        case SubOp::key_topk: return "key_topk";
        case SubOp::topk: return "topk";
        case SubOp::pattern: return "pattern";
        case SubOp::qk: return "qk";
        case SubOp::softmax: return "softmax";
        case SubOp::pv: return "pv";
        case SubOp::count: break;
    }
    return "?";
}

BlockOp sub_op_parent(SubOp op) {
    switch (op) {
        case SubOp::qk:
        case SubOp::softmax:
        case SubOp::pv: return BlockOp::attention;
        default: return BlockOp::mask;
    }
}

bool sub_op_applies(SubOp op, MaskSource mask) {
    switch (op) {
        case SubOp::topk: return mask == MaskSource::oracle;
        case SubOp::pattern: return mask == MaskSource::window;
        case SubOp::qk:
        case SubOp::softmax:
        case SubOp::pv: return mask == MaskSource::dense;
        default: return mask == MaskSource::learned;  // the predictor's phases
    }
}

SubOp sub_op_of(PredictorPhase phase) {
    switch (phase) {
        case PredictorPhase::alive_slice: return SubOp::alive_slice;
        case PredictorPhase::qc: return SubOp::qc;
        case PredictorPhase::kc: return SubOp::kc;
        case PredictorPhase::kl: return SubOp::kl;
        case PredictorPhase::cheap: return SubOp::cheap;
        case PredictorPhase::coef_topk: return SubOp::coef_topk;
        case PredictorPhase::coef_basis: return SubOp::coef_basis;
        case PredictorPhase::key_topk: return SubOp::key_topk;
        case PredictorPhase::count: break;
    }
    return SubOp::count;
}

}  // namespace sparsifiner
