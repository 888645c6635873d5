// Once a shape has been seen, a forward pass allocates no buffers: every activation lives in the
// model's workspace and every oneDNN primitive is cached (on these machines a freshly touched
// page costs ~10 us). Counted by replacing the global operator new in this test binary. oneDNN's
// C++ execute() itself makes a few small bookkeeping allocations per call (its argument vector
// and context), which reuse freed heap chunks and touch no new pages: only allocations of a
// page or more are counted.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

#include "core/model/deit_model.h"
#include "weights/random_weights.h"

static std::atomic<long> g_allocations{0};

constexpr std::size_t kPage = 4096;

void* operator new(std::size_t size) {
    if (size >= kPage) g_allocations++;
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    if (size >= kPage) g_allocations++;
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t align) {
    if (size >= kPage) g_allocations++;
    std::size_t alignment = static_cast<std::size_t>(align);
    if (void* p = std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace sparsifiner;

static long allocations_during_second_forward(DeitModel& model, int B) {
    std::vector<float> images((size_t)B * 3 * model.img_size() * model.img_size());
    std::mt19937 rng(0);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : images) v = normal(rng);
    std::vector<float> logits((size_t)B * model.num_classes());
    model.forward(images.data(), B, logits.data());  // first sight of this shape: plans and buffers
    long before = g_allocations.load();
    model.forward(images.data(), B, logits.data());
    return g_allocations.load() - before;
}

TEST_CASE("model: a repeated forward pass allocates nothing") {
    DeitWeights weights = deit_weights_random(deit_config_for_arch("deit_tiny", 64, false, true), 5);
    DeitModel model(weights, 0);
    SUBCASE("dense") {
        model.set_attention_plan(attention_plan_make(weights.config, "dense", {}, {}, 1.0f));
        CHECK(allocations_during_second_forward(model, 2) == 0);
        // The counter does see the model's buffers being made for a new, larger batch.
        long before = g_allocations.load();
        CHECK(allocations_during_second_forward(model, 3) == 0);
        CHECK(g_allocations.load() > before);
    }
    SUBCASE("learned masks with token pruning") {
        model.set_attention_plan(attention_plan_make(weights.config, "learned", {0.5f}, {1, 3}, 0.7f));
        CHECK(allocations_during_second_forward(model, 2) == 0);
    }
    SUBCASE("oracle and window masks") {
        model.set_attention_plan(attention_plan_make(weights.config, "oracle", {0.3f}, {}, 1.0f));
        CHECK(allocations_during_second_forward(model, 2) == 0);
        model.set_attention_plan(attention_plan_make(weights.config, "window", {0.3f}, {2}, 0.5f));
        CHECK(allocations_during_second_forward(model, 2) == 0);
    }
}
