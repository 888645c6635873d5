#pragma once
// Seeded random weights of a given geometry, for studying the cost of a geometry without a
// checkpoint (`profile --random-weights`). UNTRAINED: only timings and counts mean anything.
#include <cstdint>
#include <string>

#include "weights/deit_weights.h"

namespace sparsifiner {

// The DeiT table (SPEC 1): "deit_tiny", "deit_small", "deit_base". Sparsifiner geometry uses the
// official factors (c = d / 2, K = floor(N / 6)) at img_size. Throws WeightFileError for an
// unknown name or a size that is not a multiple of the patch.
DeitConfig deit_config_for_arch(const std::string& arch, int img_size, bool distilled, bool sparsifiner);

// Linear weights ~ N(0, 0.02), biases 0, LayerNorm 1/0 (timm's init); predictor tensors drawn so
// that about a third of the basis survives the 0.02 threshold, as in trained models.
DeitWeights deit_weights_random(const DeitConfig& config, uint64_t seed);

}  // namespace sparsifiner
