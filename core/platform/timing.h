#pragma once
// Wall-clock timing and the statistics the reports use.
#include <algorithm>
#include <chrono>
#include <vector>

namespace sparsifiner {

inline double seconds_now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The q-quantile (0..1) of samples, by linear interpolation between order statistics.
inline double quantile(std::vector<double> samples, double q) {
    if (samples.empty()) return 0;
    std::sort(samples.begin(), samples.end());
    double position = q * (samples.size() - 1);
    size_t low = (size_t)position;
    size_t high = std::min(low + 1, samples.size() - 1);
    return samples[low] + (position - low) * (samples[high] - samples[low]);
}

}  // namespace sparsifiner
