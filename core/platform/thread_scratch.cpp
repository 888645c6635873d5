#include "core/platform/thread_scratch.h"

#include <cstdlib>
#include <new>

namespace sparsifiner {

float* thread_scratch(size_t floats, ScratchSlot slot) {
    struct Buffer {
        float* data = nullptr;
        size_t size = 0;
        ~Buffer() { std::free(data); }
    };
    thread_local Buffer buffers[2];
    Buffer& buffer = buffers[static_cast<int>(slot)];
    if (floats > buffer.size) {
        size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
        float* fresh = static_cast<float*>(std::aligned_alloc(64, bytes));
        if (!fresh) throw std::bad_alloc();
        std::free(buffer.data);
        buffer.data = fresh;
        buffer.size = bytes / sizeof(float);
    }
    return buffer.data;
}

}  // namespace sparsifiner
