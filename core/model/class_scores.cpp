#include "core/model/class_scores.h"

#include <algorithm>
#include <cmath>

namespace sparsifiner {

std::vector<ClassScore> top_classes(const float* logits, int num_classes, int k) {
    // Softmax in double: with 1000 classes the f32 sum of exponentials loses digits users see.
    double max_logit = logits[0];
    for (int i = 1; i < num_classes; i++) max_logit = std::max(max_logit, (double)logits[i]);
    double sum = 0;
    for (int i = 0; i < num_classes; i++) sum += std::exp((double)logits[i] - max_logit);

    std::vector<int> order(num_classes);
    for (int i = 0; i < num_classes; i++) order[i] = i;
    k = std::min(k, num_classes);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
        return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
    });
    std::vector<ClassScore> top(k);
    for (int i = 0; i < k; i++)
        top[i] = {order[i], (float)(std::exp((double)logits[order[i]] - max_logit) / sum)};
    return top;
}

}  // namespace sparsifiner
