#pragma once
// The machine's streaming read bandwidth, measured now, at each level of the memory hierarchy:
// the yardstick profile holds its memory-bound ops against (core/model/roofline.h). A probe sums
// a buffer of a given size over and over; the buffer's size picks the level it lives in.
#include <cstddef>

namespace sparsifiner {

// Data cache sizes in bytes: L1d and L2 per core, L3 shared (from sysfs as lscpu reads them, else
// the C library's sysconf, else Zen 4's 32 KiB / 1 MiB / 32 MiB).
struct CacheSizes {
    size_t l1d = 0, l2 = 0, l3 = 0;
};
CacheSizes cache_sizes();

struct BandwidthSample {
    size_t buffer_bytes = 0;  // the buffer read: whole floats, split into one contiguous part per thread
    int threads = 0;          // threads that read it (the current OpenMP thread count)
    int sweeps = 0;           // full passes over the buffer in each timed repeat
    double bytes_read = 0;    // per repeat: buffer_bytes x sweeps
    double best_seconds = 0;  // the fastest repeat
    double gb_per_s = 0;      // bytes_read / best_seconds / 1e9
    // The sum of every float read in the last repeat. The buffer holds ones, so this is the count
    // of floats read: it keeps the reads from being optimised away and lets the tests check that
    // bytes_read counts exactly what was touched.
    double checksum = 0;
};

// Reads a buffer of `bytes` (rounded down to whole floats), `sweeps` times per repeat, after one
// untimed sweep that brings it into the cache; best of `repeats`.
BandwidthSample read_bandwidth_measure(size_t bytes, int sweeps, int repeats);

// The vector sums the probe reads with (memory_bandwidth_kernel.h): n floats `sweeps` times.
double read_sum_avx2(const float* p, size_t n, int sweeps);
double read_sum_avx512(const float* p, size_t n, int sweeps);

}  // namespace sparsifiner
