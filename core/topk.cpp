#include "core/topk.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

namespace sparsifiner {

namespace {

// An order-preserving map from float to uint32: a larger float gives a larger integer. -0.0 is
// folded into +0.0 (they compare equal, so they must tie) and NaN into -inf.
uint32_t float_rank(float x) {
    if (std::isnan(x)) x = -std::numeric_limits<float>::infinity();
    x += 0.0f;  // -0.0 + 0.0 == +0.0
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

}  // namespace

int topk_select(const float* scores, int n, int k, int32_t* out) {
    if (n <= 0 || k <= 0) return 0;
    if (k >= n) {
        for (int i = 0; i < n; i++) out[i] = i;
        return n;
    }
    // One 64-bit key per entry: score rank in the high half, the complement of the index in the
    // low half. Keys are distinct and "larger key" is exactly (higher score, then lower index),
    // so nth_element on plain integers gives the deterministic tie-break with no indirection.
    thread_local std::vector<uint64_t> keys;
    if (keys.size() < static_cast<size_t>(n)) keys.resize(n);
    for (int i = 0; i < n; i++)
        keys[i] = (static_cast<uint64_t>(float_rank(scores[i])) << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(i));
    std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.begin() + n, std::greater<uint64_t>());
    // keys[k-1] is now the k-th largest key; as keys are distinct, exactly k keys are >= it. One
    // pass in index order collects them already ascending: O(n) instead of sorting k indices.
    const uint64_t kth = keys[k - 1];
    int written = 0;
    for (int i = 0; i < n && written < k; i++) {
        const uint64_t key = (static_cast<uint64_t>(float_rank(scores[i])) << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(i));
        if (key >= kth) out[written++] = i;
    }
    return written;
}

}  // namespace sparsifiner
