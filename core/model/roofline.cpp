#include "core/model/roofline.h"

#include <algorithm>
#include <limits>

#include "core/kernels/matmul_peak.h"
#include "core/platform/memory_bandwidth.h"
#include "core/platform/threading.h"

namespace sparsifiner {

namespace {

// Each probe reads at least this much per repeat, so that the clock's resolution and the threads'
// start-up are small beside it.
constexpr double kProbeBytesPerRepeat = 32 << 20;
constexpr int kProbeRepeats = 5;

MemoryLevel level_measure(const char* name, double capacity, size_t buffer_bytes) {
    const int sweeps = std::max(1, (int)(kProbeBytesPerRepeat / buffer_bytes));
    const BandwidthSample sample = read_bandwidth_measure(buffer_bytes, sweeps, kProbeRepeats);
    return {name, capacity, (double)sample.buffer_bytes, sample.gb_per_s};
}

}  // namespace

Roofline roofline_measure() {
    Roofline roofline;
    roofline.threads = threads_get();
    const MatmulPeak peak = matmul_peak_measure(1536, 5);
    roofline.matmul_size = peak.size;
    roofline.fma_gmacs_per_s = peak.best_gflops / 2;
    // L1 and L2 are per core: each thread reads half of its own. L3 is shared, here with other
    // cores and machines: a sweep over half of it already loses lines (on a Zen 4 VM, 16 of
    // 32 MiB ran at 60 GB/s against 90 GB/s for 4 to 8 MiB), so a working set counts as L3-resident
    // up to half of it and the probe reads a quarter. DRAM: twice L3 (at least 64 MiB), so that a
    // linear sweep finds nothing left in any cache (at most 256 MiB, should a cache size be absurd).
    const CacheSizes caches = cache_sizes();
    const size_t threads = std::max(roofline.threads, 1);
    roofline.levels.push_back(level_measure("L1", (double)caches.l1d, threads * caches.l1d / 2));
    roofline.levels.push_back(level_measure("L2", (double)caches.l2, threads * caches.l2 / 2));
    roofline.levels.push_back(level_measure("L3", (double)caches.l3 / 2, caches.l3 / 4));
    roofline.levels.push_back(level_measure("DRAM", std::numeric_limits<double>::infinity(),
                                            std::min<size_t>(std::max<size_t>(2 * caches.l3, 64 << 20), 256 << 20)));
    return roofline;
}

OpBound op_bound(const Roofline& roofline, const OpWork& work) {
    OpBound bound;
    for (const MemoryLevel& level : roofline.levels) {
        bound.level = &level;
        if (work.footprint <= level.capacity) break;
    }
    if (roofline.fma_gmacs_per_s > 0) bound.fma_seconds = work.macs / (roofline.fma_gmacs_per_s * 1e9);
    if (bound.level && bound.level->gb_per_s > 0) bound.memory_seconds = work.bytes / (bound.level->gb_per_s * 1e9);
    return bound;
}

}  // namespace sparsifiner
