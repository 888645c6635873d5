#pragma once
// From logits to what a user reads: probabilities (softmax over classes) and the top k.
#include <vector>

namespace sparsifiner {

struct ClassScore {
    int index;
    float probability;
};

// The k most probable classes, most probable first; ties go to the lower class index.
std::vector<ClassScore> top_classes(const float* logits, int num_classes, int k);

}  // namespace sparsifiner
