#include "core/platform/memory_bandwidth.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <fstream>
#include <memory>
#include <string>

#include "core/platform/isa.h"
#include "core/platform/timing.h"

namespace sparsifiner {

namespace {

// The size of the level-`level` data (or unified) cache of CPU 0 from sysfs, the figure lscpu
// shows; 0 when absent. glibc's sysconf reports the host's whole L3 inside some VMs (320 MiB on a
// 2-vCPU Zen 4 guest whose sysfs says 32 MiB).
size_t sysfs_cache_size(int level) {
    for (int index = 0; index < 8; index++) {
        const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
        std::ifstream level_file(dir + "level"), type_file(dir + "type"), size_file(dir + "size");
        int found = 0;
        std::string type, size;
        if (!(level_file >> found) || !(type_file >> type) || !(size_file >> size)) continue;
        if (found != level || type == "Instruction") continue;
        size_t value = std::strtoull(size.c_str(), nullptr, 10);
        if (size.back() == 'K') value <<= 10;
        if (size.back() == 'M') value <<= 20;
        return value;
    }
    return 0;
}

size_t cache_size(int level, int sysconf_name, size_t fallback) {
    if (const size_t value = sysfs_cache_size(level)) return value;
    const long value = sysconf(sysconf_name);
    return value > 0 ? (size_t)value : fallback;
}

// The portable sum (the vector ones: memory_bandwidth_kernel.h).
double sum_portable(const float* p, size_t n, int sweeps) {
    float a[8] = {};
    const size_t body = n / 8 * 8;
    for (int s = 0; s < sweeps; s++)
        for (size_t i = 0; i < body; i += 8)
            for (int j = 0; j < 8; j++) a[j] += p[i + j];
    double sum = 0;
    for (float v : a) sum += v;
    for (int s = 0; s < sweeps; s++)
        for (size_t i = body; i < n; i++) sum += p[i];
    return sum;
}

using SumKernel = double (*)(const float*, size_t, int);

SumKernel sum_kernel() {
    switch (isa_best()) {
        case Isa::avx512: return read_sum_avx512;
        case Isa::avx2: return read_sum_avx2;
        default: return sum_portable;
    }
}

struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
};

}  // namespace

CacheSizes cache_sizes() {
    CacheSizes sizes;
    sizes.l1d = cache_size(1, _SC_LEVEL1_DCACHE_SIZE, 32 << 10);
    sizes.l2 = cache_size(2, _SC_LEVEL2_CACHE_SIZE, 1 << 20);
    sizes.l3 = cache_size(3, _SC_LEVEL3_CACHE_SIZE, 32 << 20);
    return sizes;
}

BandwidthSample read_bandwidth_measure(size_t bytes, int sweeps, int repeats) {
    const size_t floats = std::max<size_t>(bytes / sizeof(float), 1);
    const size_t allocated = (floats * sizeof(float) + 63) / 64 * 64;  // aligned_alloc wants a multiple
    std::unique_ptr<float, FreeDeleter> buffer(static_cast<float*>(std::aligned_alloc(64, allocated)));
    if (!buffer) throw std::bad_alloc();
    float* data = buffer.get();
    const int threads = omp_get_max_threads();
    // Each thread writes the part it will read, so that its pages and lines start near it.
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < floats; i++) data[i] = 1.0f;
    const SumKernel sum = sum_kernel();
    sweeps = std::max(sweeps, 1);
    // One repeat: every thread sums its contiguous part `sweeps` times. The sums go through
    // the checksum so no sweep can be dropped.
    auto read_all = [&](int passes) {
        double total = 0;
#pragma omp parallel reduction(+ : total)
        {
            const int t = omp_get_thread_num(), n = omp_get_num_threads();
            const size_t begin = floats * t / n, end = floats * (t + 1) / n;
            total += sum(data + begin, end - begin, passes);
        }
        return total;
    };
    read_all(1);  // untimed: pages touched, buffer in the level it fits
    BandwidthSample sample;
    sample.buffer_bytes = floats * sizeof(float);
    sample.threads = threads;
    sample.sweeps = sweeps;
    sample.bytes_read = (double)sample.buffer_bytes * sweeps;
    sample.best_seconds = std::numeric_limits<double>::infinity();
    for (int r = 0; r < std::max(repeats, 1); r++) {
        const double start = seconds_now();
        sample.checksum = read_all(sweeps);
        sample.best_seconds = std::min(sample.best_seconds, seconds_now() - start);
    }
    sample.gb_per_s = sample.bytes_read / sample.best_seconds / 1e9;
    return sample;
}

}  // namespace sparsifiner
