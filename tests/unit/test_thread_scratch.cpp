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
    const ScratchSlot slots[] = {ScratchSlot::kernel, ScratchSlot::prepared, ScratchSlot::selection, ScratchSlot::packing};
    static_assert(sizeof(slots) / sizeof(slots[0]) == kScratchSlots, "every slot is tested");
    for (ScratchSlot slot : slots)
        for (size_t floats : {size_t{1}, size_t{17}, size_t{1000}, size_t{5000}, size_t{100000}, size_t{3}}) {
            const float* p = thread_scratch(floats, slot);
            CHECK(reinterpret_cast<uintptr_t>(p) % kScratchAlignment == 0);
        }
    for (int a = 0; a < kScratchSlots; a++)
        for (int b = a + 1; b < kScratchSlots; b++) {
            CAPTURE(a);
            CAPTURE(b);
            CHECK(thread_scratch(100, slots[a]) != thread_scratch(100, slots[b]));
        }
    CHECK(scratch_page_floats(1) == 1024);
    CHECK(scratch_page_floats(1024) == 1024);
    CHECK(scratch_page_floats(1025) == 2048);
}
