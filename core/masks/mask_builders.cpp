// The three mask sources behind MaskBuilder (mask_builder.h): learned (the Sparsifiner
// predictor, SPEC 2), oracle and window (SPEC 4, mask_patterns.h).
#include "core/masks/mask_builder.h"

#include <algorithm>
#include <stdexcept>

#include "core/masks/mask_patterns.h"

namespace sparsifiner {

namespace {

class LearnedMasks : public MaskBuilder {
public:
    explicit LearnedMasks(const MaskPredictor* predictor) : predictor_(predictor) {}

    int build(const MaskInput& in, int32_t* key_index, const MaskReport& report) override {
        if (!in.pruned)
            return predictor_->predict(in.qkv, in.B, in.T, in.budget, nullptr, key_index, report.counts,
                                       report.phases);
        // Each image has its own survivors, so its own rows of proj_n and columns of the basis.
        const size_t per_image = static_cast<size_t>(in.H) * (in.T - 1) * in.budget;
        const size_t qkv_per_image = static_cast<size_t>(in.T) * 3 * in.H * in.d;
        for (int b = 0; b < in.B; b++) {
            PredictorCounts image_counts;
            predictor_->predict(in.qkv + b * qkv_per_image, 1, in.T, in.budget, in.positions + (size_t)b * in.T,
                                key_index + b * per_image, report.counts ? &image_counts : nullptr, report.phases);
            if (report.counts) {
                PredictorCounts& c = *report.counts;
                c.basis_nnz += image_counts.basis_nnz;
                c.macs_qc += image_counts.macs_qc;
                c.macs_kc += image_counts.macs_kc;
                c.macs_kl += image_counts.macs_kl;
                c.macs_cheap += image_counts.macs_cheap;
                c.macs_coef_basis += image_counts.macs_coef_basis;
                c.coef_basis_reads += image_counts.coef_basis_reads;
                c.basis_bytes = std::max(c.basis_bytes, image_counts.basis_bytes);
            }
        }
        return in.budget;
    }

private:
    const MaskPredictor* predictor_;
};

class OracleMasks : public MaskBuilder {
public:
    int build(const MaskInput& in, int32_t* key_index, const MaskReport&) override {
        return oracle_mask(in.qkv, in.B, in.T, in.H, in.d, in.budget, key_index);
    }
};

// One pattern per image (pruning leaves each image its own tokens), the same for every head.
class WindowMasks : public MaskBuilder {
public:
    WindowMasks(int extra_tokens, int grid) : extra_(extra_tokens), grid_(grid) {}

    int build(const MaskInput& in, int32_t* key_index, const MaskReport&) override {
        const size_t per_head = static_cast<size_t>(in.T - 1) * in.budget;
        for (int b = 0; b < in.B; b++) {
            int used = in.budget;
            const int32_t* rows =
                cache_.get(in.T, extra_, grid_, grid_, in.budget, in.positions + (size_t)b * in.T, &used);
            for (int h = 0; h < in.H; h++) std::copy(rows, rows + per_head, key_index + (b * in.H + h) * per_head);
        }
        return in.budget;
    }

private:
    int extra_, grid_;
    WindowMaskCache cache_;
};

}  // namespace

std::unique_ptr<MaskBuilder> mask_builder_make(MaskSource source, const MaskContext& context) {
    switch (source) {
        case MaskSource::dense: return nullptr;
        case MaskSource::learned:
            if (!context.predictor) throw std::invalid_argument("learned masks need Sparsifiner weights");
            return std::make_unique<LearnedMasks>(context.predictor);
        case MaskSource::oracle: return std::make_unique<OracleMasks>();
        case MaskSource::window: return std::make_unique<WindowMasks>(context.extra_tokens, context.grid);
    }
    throw std::invalid_argument("unknown mask source");
}

}  // namespace sparsifiner
