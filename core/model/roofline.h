#pragma once
// The roofline profile holds each op against (issue 15): the machine's f32 FMA peak, from the
// in-run oneDNN matmul, and its streaming read bandwidth per memory level, from the in-run probe
// (core/platform/memory_bandwidth.h). An op's roofline time is the longer of its MACs at the FMA
// peak and its minimum bytes at the bandwidth of the level its working set fits in; the fraction
// of roofline it achieves is that time over its measured time.
#include <string>
#include <vector>

#include "core/model/op_work.h"

namespace sparsifiner {

struct MemoryLevel {
    std::string name;          // "L1", "L2", "L3", "DRAM"
    double capacity = 0;       // bytes one working set may use to live here (infinite for DRAM)
    double buffer_bytes = 0;   // what the probe read
    double gb_per_s = 0;       // measured, all threads reading
};

struct Roofline {
    int threads = 0;
    int matmul_size = 0;          // n of the n x n x n oneDNN matmul
    double fma_gmacs_per_s = 0;   // its best rate, in GMAC/s (half its GFLOP/s)
    std::vector<MemoryLevel> levels;  // fastest first; the last holds everything
};

// Measures both now, with the current thread count (about 0.3 s at one thread).
Roofline roofline_measure();

// Where an op's roofline lies.
struct OpBound {
    const MemoryLevel* level = nullptr;  // the level its working set fits in
    double fma_seconds = 0;              // its MACs at the FMA peak
    double memory_seconds = 0;           // its bytes at that level's bandwidth
    double seconds() const { return fma_seconds > memory_seconds ? fma_seconds : memory_seconds; }
    bool fma_bound() const { return fma_seconds >= memory_seconds && fma_seconds > 0; }
};
OpBound op_bound(const Roofline& roofline, const OpWork& work);

}  // namespace sparsifiner
