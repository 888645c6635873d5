#include "core/model/op_work.h"

#include <algorithm>
#include <string_view>

#include "core/kernels/sparse_attention.h"

namespace sparsifiner {

namespace {

constexpr double kFloat = 4;  // bytes of a float or an int32 index

// A product [M, K] x [K, N] per image: reads its input and the shared weights, writes its output.
OpWork linear_work(double M, double K, double N, double macs_per_image, int B) {
    OpWork w;
    w.macs = macs_per_image * B;
    w.bytes = kFloat * (B * M * K + K * N + B * M * N);
    w.footprint = kFloat * (M * K + K * N + M * N);
    return w;
}

// Reads n elements and writes n (LayerNorm, a copy), one unit of `unit` elements at a time.
OpWork streaming_work(double n, double unit, const char* elements_of) {
    OpWork w;
    w.elements = n;
    w.elements_of = elements_of;
    w.bytes = 2 * kFloat * n;
    w.footprint = 2 * kFloat * unit;
    return w;
}

// A selection (top-k) or a softmax over rows of `row` elements already in the cache: the floor is
// reading each candidate once. Compares or exponentials, not bytes, limit such kernels, so this
// floor is loose: their ns per element is the figure to follow.
OpWork row_work(double n, double row, const char* elements_of) {
    OpWork w;
    w.elements = n;
    w.elements_of = elements_of;
    w.bytes = kFloat * n;
    w.footprint = kFloat * row;
    return w;
}

}  // namespace

OpWork& OpWork::operator+=(const OpWork& other) {
    macs += other.macs;
    if (other.elements > 0) {
        elements_of = elements > 0 && std::string_view(elements_of) != other.elements_of ? "mixed" : other.elements_of;
        elements += other.elements;
    }
    bytes += other.bytes;
    footprint = std::max(footprint, other.footprint);
    return *this;
}

OpWork block_op_work(BlockOp op, const DeitConfig& c, const BlockStats& s, const BlockMacs& m, int B) {
    const double T = s.tokens_in, To = s.tokens_out, k = s.kept_keys, D = c.embed_dim, H = c.num_heads,
                 d = c.head_dim(), hidden = c.mlp_hidden;
    switch (op) {
        case BlockOp::ln1: return streaming_work(B * T * D, T * D, "layernorm inputs");
        case BlockOp::ln2: return streaming_work(B * To * D, To * D, "layernorm inputs");
        case BlockOp::qkv: return linear_work(T, D, 3 * D, m.qkv, B);
        case BlockOp::proj: return linear_work(T, D, D, m.proj, B);
        case BlockOp::fc1_gelu: {
            OpWork w = linear_work(To, D, hidden, m.fc1, B);
            w.elements = B * To * hidden;
            w.elements_of = "gelu inputs";
            return w;
        }
        case BlockOp::fc2: return linear_work(To, hidden, D, m.fc2, B);
        case BlockOp::prune: {
            if (To == T) return {};
            // Reads the cls row's probabilities of every head, then moves the survivors' rows.
            OpWork w = streaming_work(B * To * D, T * D, "rows moved (floats)");
            w.bytes += kFloat * B * H * T;
            return w;
        }
        case BlockOp::mask: {
            OpWork w;
            for (int sub = 0; sub < (int)SubOp::count; sub++)
                if (sub_op_parent((SubOp)sub) == BlockOp::mask && sub_op_applies((SubOp)sub, s.mask))
                    w += sub_op_work((SubOp)sub, c, s, m, B);
            return w;
        }
        case BlockOp::attention: {
            if (s.mask == MaskSource::dense && !s.attention_fused) {
                OpWork w;
                for (SubOp sub : {SubOp::qk, SubOp::softmax, SubOp::pv}) w += sub_op_work(sub, c, s, m, B);
                return w;
            }
            OpWork w;
            w.macs = B * (m.qk + m.pv);
            w.elements = B * H * (T + (T - 1) * k);
            w.elements_of = "softmax inputs";
            // One head's K and V are the working set.
            w.footprint = 2 * kFloat * T * d;
            if (s.mask == MaskSource::dense) {
                // Fused dense: q, k, v read and the output written once.
                w.bytes = 4 * kFloat * B * T * D;
            } else {
                // Sparse (ELL): every kept pair gathers its key and value row, with no reuse
                // assumed between query rows (4 bytes per MAC), plus the kept indices. The kernel
                // walks a block of query rows through tiles of keys (sparse_attention_kernel.h):
                // what it re-reads is a tile of K (then V) rows and the block's scores, not the
                // whole head, so that is the working set whose cache level bounds it.
                w.bytes = kFloat * w.macs + kFloat * B * H * (T - 1) * k;
                w.footprint = kFloat * ((double)kSparseTileKeys * d + (double)kSparseBlockRows * k);
            }
            return w;
        }
        case BlockOp::count: break;
    }
    return {};
}

OpWork sub_op_work(SubOp op, const DeitConfig& c, const BlockStats& s, const BlockMacs& m, int B) {
    const double T = s.tokens_in, k = s.kept_keys, H = c.num_heads, d = c.head_dim(), cc = c.predictor_c,
                 K = c.predictor_K, BH = (double)B * H;
    const PredictorMacs& p = m.predictor_products;
    OpWork w;
    switch (op) {
        case SubOp::alive_slice: {
            // Once per pass: proj_n's rows of the alive tokens copied, every basis row expanded
            // to all N tokens and its alive columns kept.
            if (T >= c.predictor_N) return {};
            w.elements = 2 * T * K;
            w.elements_of = "floats gathered";
            w.bytes = kFloat * (2 * T * K + K * c.predictor_N + K * T);
            w.footprint = w.bytes;
            return w;
        }
        case SubOp::qc:
        case SubOp::kc:
            // q or k of one head [T, d] times W^T [d, c].
            w.macs = B * (op == SubOp::qc ? p.qc : p.kc);
            w.bytes = kFloat * (BH * (T * d + T * cc) + d * cc);
            w.footprint = kFloat * (T * d + d * cc + T * cc);
            return w;
        case SubOp::kl:
            // kc^T [c, T] times proj_n [T, K] per head; proj_n is shared (read once at least).
            w.macs = B * p.kl;
            w.bytes = kFloat * (BH * (T * cc + cc * K) + T * K);
            w.footprint = kFloat * (T * cc + T * K + cc * K);
            return w;
        case SubOp::cheap:
            // qc [T-1, c] times kl [c, K]; the rows go straight to the coefficient softmax.
            w.macs = B * p.cheap;
            w.bytes = kFloat * BH * ((T - 1) * cc + cc * K);
            w.footprint = kFloat * cc * K;
            return w;
        case SubOp::coef_topk: return row_work(BH * (T - 1) * K, K, "coefficients (softmax + top-k)");
        case SubOp::coef_basis:
            // Sums of a few basis rows into a row of N; the sum stays in L1. The bytes are the
            // basis floats the kernel read (a dense-stored basis reads its zeros too: 4 bytes per
            // entry of every used row, not per MAC), and the stored basis is the working set.
            w.macs = B * p.coef_basis;
            w.bytes = kFloat * s.predictor.coef_basis_reads;
            w.footprint = s.predictor.basis_bytes;
            return w;
        case SubOp::key_topk: return row_work(BH * (T - 1) * T, T, "key scores (top-k)");
        case SubOp::topk:
            // Oracle: the dense q.k row by row from one head's q and k, then its top-k.
            w.macs = B * m.mask_scores;
            w.elements = BH * (T - 1) * T;
            w.elements_of = "key scores (top-k)";
            w.bytes = kFloat * BH * (2 * T * d + (T - 1) * k);
            w.footprint = 2 * kFloat * T * d;
            return w;
        case SubOp::pattern: return streaming_work(BH * (T - 1) * k, (T - 1) * k, "key indices copied");
        case SubOp::qk:
        case SubOp::pv:
            // One head: [T, d] x [d, T] -> [T, T], or [T, T] x [T, d] -> [T, d].
            w.macs = B * (op == SubOp::qk ? m.qk : m.pv);
            w.bytes = kFloat * BH * (2 * T * d + T * T);
            w.footprint = kFloat * (2 * T * d + T * T);
            return w;
        case SubOp::softmax: return streaming_work(BH * T * T, T * T, "softmax inputs");
        case SubOp::count: break;
    }
    return {};
}

OpWork model_op_work(ModelOp op, const DeitConfig& c, const ForwardMacs& macs, int tokens0, int B) {
    const double D = c.embed_dim, cells = tokens0 - c.extra_tokens();
    switch (op) {
        case ModelOp::patch_embed:
            return linear_work(cells, (double)c.in_chans * c.patch_size * c.patch_size, D, macs.patch_embed, B);
        case ModelOp::head: {
            // The classifier's weights dominate: one row per extra token times [D, classes].
            const double rows = c.distilled ? 2 : 1;
            OpWork w;
            w.macs = B * macs.head;
            w.bytes = kFloat * (rows * D * c.num_classes + B * rows * (D + c.num_classes));
            w.footprint = kFloat * rows * D * c.num_classes;
            return w;
        }
        case ModelOp::count: break;
    }
    return {};
}

}  // namespace sparsifiner
