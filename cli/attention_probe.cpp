#include "cli/attention_probe.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "analysis/attention_fidelity.h"

namespace sparsifiner {

void RunningStat::add(double value) {
    sum += value;
    min = std::min(min, value);
    max = std::max(max, value);
    count++;
}

nlohmann::json RunningStat::to_json() const {
    if (count == 0) return {{"mean", nullptr}, {"min", nullptr}, {"max", nullptr}};
    return {{"mean", mean()}, {"min", min}, {"max", max}};
}

AttentionProbe::AttentionProbe(int depth, int H, int d, ProbeDepth what, const std::vector<PredictorLowRank>* low_rank,
                               int top_singular)
    : depth_(depth), H_(H), d_(d), top_(top_singular), what_(what),
      low_rank_(low_rank && !low_rank->empty() ? low_rank : nullptr), layers_(depth) {
    for (LayerSummary& layer : layers_) layer.heads.resize(H);
}

ForwardObserver AttentionProbe::observer() {
    ForwardObserver o;
    o.qkv = [this](int, const float* qkv, int, int) { qkv_ = qkv; };
    o.masks = [this](int block, const int32_t* key_index, const int32_t* positions, int B, int, int T, int k) {
        on_masks(block, key_index, positions, B, T, k);
    };
    return o;
}

static void sum_into(std::vector<double>& sums, const std::vector<double>& values) {
    if (sums.size() < values.size()) sums.resize(values.size(), 0.0);
    for (size_t i = 0; i < values.size(); i++) sums[i] += values[i];
}

void AttentionProbe::on_masks(int block, const int32_t* key_index, const int32_t* positions, int B, int T, int k) {
    if (block == 0) images_ += B;
    LayerSummary& layer = layers_[block];
    const int kept = key_index ? k : T;
    // Every non-cls row keeps exactly `kept` keys and the cls row all T (the ELL layout).
    const double density = ((double)T + (double)(T - 1) * kept) / ((double)T * T);
    const long stride = 3L * H_ * d_;
    const size_t per_head = (size_t)(T - 1) * kept;
    for (int b = 0; b < B; b++) {
        layer.tokens_alive.add(T);
        layer.density.add(density);
        for (HeadSummary& head : layer.heads) head.density.add(density);
    }
    if (what_ == ProbeDepth::density) return;

    // (image, head) pairs; q, k, v of head h start at h*d, D + h*d, 2D + h*d of each token row.
    const int pairs = B * H_;
    auto keys_of = [&](int b, int h) { return key_index ? key_index + (size_t)(b * H_ + h) * per_head : nullptr; };
    auto q_of = [&](int b, int h) { return qkv_ + (size_t)b * T * stride + (size_t)h * d_; };
    const int D = H_ * d_;
    if (what_ == ProbeDepth::kept_mass) {
        std::vector<double> mass(pairs);
#pragma omp parallel for schedule(dynamic)
        for (int p = 0; p < pairs; p++) {
            const int b = p / H_, h = p % H_;
            mass[p] = head_kept_mass(q_of(b, h), q_of(b, h) + D, stride, T, d_, keys_of(b, h), kept);
        }
        for (int p = 0; p < pairs; p++) layer.heads[p % H_].kept_mass.add(mass[p]);
        return;
    }
    // The fidelity, (image, head) pairs in parallel (LAPACK runs single-threaded inside).
    const bool with_low_rank = low_rank_ && key_index;
    std::vector<HeadFidelity> results(pairs);
    std::vector<std::string> failures(pairs);  // an exception must not leave an OpenMP region
#pragma omp parallel for schedule(dynamic)
    for (int p = 0; p < pairs; p++) {
        const int b = p / H_, h = p % H_;
        const float* q = q_of(b, h);
        try {
            std::vector<double> approx;
            if (with_low_rank)
                approx = (*low_rank_)[block].approx(q, q + D, stride, T, positions ? positions + (size_t)b * T : nullptr);
            results[p] = head_fidelity(q, q + D, q + 2 * D, stride, T, d_, keys_of(b, h), kept,
                                       with_low_rank ? approx.data() : nullptr, top_);
        } catch (const std::exception& e) {
            failures[p] = e.what();
        }
    }
    for (int p = 0; p < pairs; p++)
        if (!failures[p].empty())
            throw std::runtime_error("fidelity of block " + std::to_string(block) + ", head " +
                                     std::to_string(p % H_) + ": " + failures[p]);
    for (int p = 0; p < pairs; p++) {
        const HeadFidelity& f = results[p];
        HeadSummary& head = layer.heads[p % H_];
        head.kept_mass.add(f.kept_mass);
        head.output_rel_error.add(f.output_rel_error);
        sum_into(head.dense_singular, f.dense_singular);
        sum_into(head.sparse_singular, f.sparse_singular);
        head.spectra++;
        if (with_low_rank) {
            sum_into(head.low_rank_singular, f.low_rank_singular);
            head.low_rank_spectra++;
        }
    }
}

double AttentionProbe::kept_mass_image_sum() const {
    // The per-image mean over blocks and heads is linear, so its sum over images is the sum of
    // every (image, block, head) kept mass divided by blocks x heads.
    double sum = 0;
    for (const LayerSummary& layer : layers_)
        for (const HeadSummary& head : layer.heads) sum += head.kept_mass.sum;
    return sum / ((double)depth_ * H_);
}

static nlohmann::json mean_spectrum(const std::vector<double>& sums, long count) {
    if (count == 0) return nullptr;
    nlohmann::json values = nlohmann::json::array();
    for (double s : sums) values.push_back(s / count);
    return values;
}

nlohmann::json AttentionProbe::layer_json(int block) const {
    const LayerSummary& layer = layers_[block];
    nlohmann::json heads = nlohmann::json::array();
    for (int h = 0; h < H_; h++) {
        const HeadSummary& s = layer.heads[h];
        nlohmann::json head = {{"head", h}, {"density", s.density.to_json()}};
        if (what_ != ProbeDepth::density) head["kept_mass"] = s.kept_mass.to_json();
        if (what_ == ProbeDepth::fidelity) {
            head["output_rel_error"] = s.output_rel_error.to_json();
            head["singular_values"] = {{"dense", mean_spectrum(s.dense_singular, s.spectra)},
                                       {"sparse", mean_spectrum(s.sparse_singular, s.spectra)},
                                       {"low_rank", mean_spectrum(s.low_rank_singular, s.low_rank_spectra)}};
        }
        heads.push_back(head);
    }
    return {{"tokens_alive", layer.tokens_alive.to_json()}, {"density", layer.density.to_json()}, {"heads", heads}};
}

}  // namespace sparsifiner
