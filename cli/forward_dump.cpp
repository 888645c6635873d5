#include "cli/forward_dump.h"

#include <filesystem>

#include "cli/npy_writer.h"
#include "cli/output_file.h"

namespace sparsifiner {

ForwardObserver ForwardDump::observer(bool want_hidden, bool want_masks) {
    ForwardObserver o;
    if (want_hidden)
        o.hidden = [this](int block, const float* x, int B, int T, int d) {
            hidden[block].insert(hidden[block].end(), x, x + (size_t)B * T * d);
            hidden_T[block] = T;
        };
    if (want_masks)
        o.masks = [this](int block, const int32_t* key_index, const int32_t* positions, int B, int heads, int T,
                         int k) {
            tokens[block].insert(tokens[block].end(), positions, positions + (size_t)B * T);
            mask_T[block] = T;
            mask_k[block] = key_index ? k : 0;
            if (key_index)
                keys[block].insert(keys[block].end(), key_index, key_index + (size_t)B * heads * (T - 1) * k);
        };
    return o;
}

void ForwardDump::resize(int depth) {
    hidden.resize(depth), hidden_T.resize(depth), keys.resize(depth), tokens.resize(depth);
    mask_T.resize(depth), mask_k.resize(depth);
}

void ForwardDump::write(const std::string& activations_dir, const std::string& masks_dir,
                        const std::vector<float>& all_logits, int C) const {
    const int64_t images = (int64_t)(all_logits.size() / C);
    const int depth = (int)hidden.size();
    if (!activations_dir.empty()) {
        output_folder_prepare(activations_dir);
        for (int i = 0; i < depth; i++)
            npy_write_f32(activations_dir + "/block_" + std::to_string(i) + ".npy", hidden[i].data(),
                          {images, hidden_T[i], D});
        npy_write_f32(activations_dir + "/logits.npy", all_logits.data(), {images, C});
    }
    if (!masks_dir.empty()) {
        output_folder_prepare(masks_dir);
        for (int i = 0; i < depth; i++) {
            const std::string prefix = masks_dir + "/block_" + std::to_string(i);
            npy_write_i32(prefix + "_tokens.npy", tokens[i].data(), {images, mask_T[i]});
            if (mask_k[i] > 0)
                npy_write_i32(prefix + "_keys.npy", keys[i].data(), {images, H, mask_T[i] - 1, mask_k[i]});
        }
    }
}

}  // namespace sparsifiner
