#pragma once
// One 64-byte aligned allocation carved into the named activation buffers of a forward pass.
// It grows only when a larger shape is seen, so steady-state inference allocates (and touches
// fresh pages) never: on these machines a fresh page costs about 10 us.
#include <cstddef>
#include <memory>
#include <new>

namespace sparsifiner {

class Workspace {
public:
    // Makes room for `floats` floats in total; keeps the current block when it is big enough.
    void reserve(size_t floats) {
        if (floats <= capacity_) return;
        size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
        float* block = static_cast<float*>(::operator new(bytes, std::align_val_t(64)));
        // Touch every page now, once, instead of inside the first timed forward pass.
        for (size_t i = 0; i < bytes / sizeof(float); i += 1024) block[i] = 0.f;
        storage_.reset(block);
        capacity_ = bytes / sizeof(float);
    }
    float* base() const { return storage_.get(); }
    size_t capacity() const { return capacity_; }

    // Rounds a buffer size up so that every carved buffer starts on a 64-byte boundary.
    static size_t padded(size_t floats) { return (floats + 15) / 16 * 16; }

private:
    struct Free {
        void operator()(float* p) const { ::operator delete(p, std::align_val_t(64)); }
    };
    std::unique_ptr<float, Free> storage_;
    size_t capacity_ = 0;
};

}  // namespace sparsifiner
