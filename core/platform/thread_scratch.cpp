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
    thread_local Buffer buffers[kScratchSlots];
    Buffer& buffer = buffers[static_cast<int>(slot)];
    if (floats > buffer.size) {
        size_t bytes = scratch_page_floats(floats) * sizeof(float);
        float* fresh = static_cast<float*>(std::aligned_alloc(kScratchAlignment, bytes));
        if (!fresh) throw std::bad_alloc();
        std::free(buffer.data);
        buffer.data = fresh;
        buffer.size = bytes / sizeof(float);
    }
    return buffer.data;
}

}  // namespace sparsifiner
