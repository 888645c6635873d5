#pragma once
// A std::vector allocator that starts the data on a 64-byte boundary: rows laid out at multiples
// of 16 floats then never split a cache line in a vector load (malloc gives 16 bytes; a split
// 64-byte load costs two of the core's load slots).
#include <cstddef>
#include <cstdlib>
#include <new>

namespace sparsifiner {

template <class T>
struct CacheLineAllocator {
    using value_type = T;
    static constexpr size_t kAlignment = 64;
    CacheLineAllocator() = default;
    template <class U>
    CacheLineAllocator(const CacheLineAllocator<U>&) {}
    T* allocate(size_t n) {
        const size_t bytes = (n * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
        void* p = std::aligned_alloc(kAlignment, bytes == 0 ? kAlignment : bytes);
        if (!p) throw std::bad_alloc();
        return static_cast<T*>(p);
    }
    void deallocate(T* p, size_t) { std::free(p); }
    template <class U>
    bool operator==(const CacheLineAllocator<U>&) const { return true; }
    template <class U>
    bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};

}  // namespace sparsifiner
