#pragma once
// A 64-byte aligned per-thread float buffer that only grows: kernels called from OpenMP loops get
// their scratch without allocating in steady state. One buffer per thread, shared by every kernel
// (kernels do not nest), so its contents do not survive from one call to the next.
#include <cstddef>

namespace sparsifiner {

// Two buffers per thread: a kernel's scratch inside an OpenMP loop, and data a dispatcher prepares
// on its own thread before that loop (whose master is the same thread) reads it.
enum class ScratchSlot { kernel = 0, prepared = 1 };

// At least `floats` floats, 64-byte aligned, owned by the calling thread. Throws std::bad_alloc.
float* thread_scratch(size_t floats, ScratchSlot slot = ScratchSlot::kernel);

}  // namespace sparsifiner
