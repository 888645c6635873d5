// Per-thread scratch (core/platform/thread_scratch.h): page-aligned in every slot, whatever was
// asked before, and the slots are separate buffers. Page alignment is what keeps the top-k's
// packing stores from straddling a page (they ran ~3x slower when a buffer began 16 bytes before a
// page end).
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "core/platform/thread_scratch.h"

using namespace sparsifiner;

TEST_CASE("thread scratch: every slot page-aligned, slots apart, sub-buffers on whole pages") {
    for (ScratchSlot slot : {ScratchSlot::kernel, ScratchSlot::prepared, ScratchSlot::selection})
        for (size_t floats : {size_t{1}, size_t{17}, size_t{1000}, size_t{5000}, size_t{100000}, size_t{3}}) {
            const float* p = thread_scratch(floats, slot);
            CHECK(reinterpret_cast<uintptr_t>(p) % kScratchAlignment == 0);
        }
    const float* kernel = thread_scratch(100, ScratchSlot::kernel);
    const float* prepared = thread_scratch(100, ScratchSlot::prepared);
    const float* selection = thread_scratch(100, ScratchSlot::selection);
    CHECK(kernel != prepared);
    CHECK(kernel != selection);
    CHECK(prepared != selection);
    CHECK(scratch_page_floats(1) == 1024);
    CHECK(scratch_page_floats(1024) == 1024);
    CHECK(scratch_page_floats(1025) == 2048);
}
