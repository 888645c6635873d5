#pragma once
// What --dump-activations and --dump-masks write (classify, profile), gathered over all images:
// per block the hidden state, the alive tokens' original indices and the kept keys, as .npy.
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/deit_model.h"

namespace sparsifiner {

// What --dump-activations and --dump-masks write, gathered over all images. Each block's token
// count (and kept-key count) is the same for every image, so arrays concatenate along images.
struct ForwardDump {
    std::vector<std::vector<float>> hidden;      // [depth][images * T_i * D]
    std::vector<int> hidden_T;
    std::vector<std::vector<int32_t>> keys;      // [depth][images * H * (T_i - 1) * k_i]
    std::vector<std::vector<int32_t>> tokens;    // [depth][images * T_i]
    std::vector<int> mask_T, mask_k;             // 0 k = dense block: no keys written
    int H = 0, D = 0;

    ForwardObserver observer(bool want_hidden, bool want_masks);

    void resize(int depth);

    void write(const std::string& activations_dir, const std::string& masks_dir, const std::vector<float>& all_logits,
               int C) const;
};

}  // namespace sparsifiner
