#pragma once
// A page-aligned per-thread float buffer that only grows: kernels called from OpenMP loops get
// their scratch without allocating in steady state. One buffer per thread and slot, shared by every
// kernel of that slot (they do not nest), so its contents do not survive from one call to the next.
// Page-aligned, not just 64-byte aligned: the top-k's packing kernels store whole vectors at any
// 4-byte offset, and a store that straddles a 4 KB page costs several times a plain one (measured:
// the key top-k's band pass ~3x slower when its output happened to start 16 bytes before a page
// end, as in `profile` at 384 px while `bench` was spared).
#include <cstddef>

namespace sparsifiner {

// Four buffers per thread: a kernel's scratch inside an OpenMP loop, data a dispatcher prepares
// on its own thread before that loop (whose master is the same thread) reads it, the selections'
// buffers (the top-k's and the predictor's coefficient selection, called inside loops that hold a
// kernel's scratch), and a product's packed operand panels (predictor_gemm, whose output may be
// the kernel slot's buffer).
enum class ScratchSlot { kernel = 0, prepared = 1, selection = 2, packing = 3 };
constexpr int kScratchSlots = 4;
constexpr size_t kScratchAlignment = 4096;
// floats rounded up to whole pages: where a second buffer starts inside one slot.
inline size_t scratch_page_floats(size_t floats) {
    constexpr size_t page = kScratchAlignment / sizeof(float);
    return (floats + page - 1) / page * page;
}

// At least `floats` floats, page-aligned, owned by the calling thread. Throws std::bad_alloc.
float* thread_scratch(size_t floats, ScratchSlot slot = ScratchSlot::kernel);

}  // namespace sparsifiner
