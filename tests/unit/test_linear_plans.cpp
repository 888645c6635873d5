// Every row count a Linear meets gets an optimised oneDNN implementation (issue 12): the weights
// used to be packed once, in the layout picked for one row count, and oneDNN then answered other
// row counts (any batch above 1 on the bundled model) with its reference convolution, ~600x slower.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/dtype.h"
#include "core/kernels/linear.h"
#include "core/platform/threading.h"

using namespace sparsifiner;

namespace {

struct Geometry {
    const char* name;
    int embed, mlp_hidden, patch_inputs, tokens, grid_cells, classes;
};

std::vector<float> seeded(size_t count, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 0.05f);
    std::vector<float> values(count);
    for (float& v : values) v = normal(rng);
    return values;
}

// Builds the Linears of one geometry as DeitModel does (typical rows = the tokens of one image) and
// asks each for its implementation at every batch from 1 to 64.
void check_geometry(const Geometry& g, Dtype dtype = Dtype::f32, int max_batch = 64) {
    struct Layer {
        const char* name;
        int in, out, typical_rows, rows_per_image;
        LinearEpilogue epilogue;
    };
    const Layer layers[] = {
        {"patch_embed", g.patch_inputs, g.embed, g.grid_cells, g.grid_cells, LinearEpilogue::bias},
        {"qkv", g.embed, 3 * g.embed, g.tokens, g.tokens, LinearEpilogue::bias},
        {"proj", g.embed, g.embed, g.tokens, g.tokens, LinearEpilogue::bias_residual},
        {"fc1", g.embed, g.mlp_hidden, g.tokens, g.tokens, LinearEpilogue::bias_gelu},
        {"fc2", g.mlp_hidden, g.embed, g.tokens, g.tokens, LinearEpilogue::bias_residual},
        {"head", g.embed, g.classes, 1, 1, LinearEpilogue::bias},
    };
    for (const Layer& layer : layers) {
        const std::vector<float> weight = seeded((size_t)layer.in * layer.out, 1), bias = seeded(layer.out, 2);
        Linear linear(weight.data(), bias.data(), layer.in, layer.out, layer.epilogue, layer.typical_rows, dtype);
        for (int batch = 1; batch <= max_batch; batch++) {
            const int rows = batch * layer.rows_per_image;
            const std::string impl = linear.implementation(rows);
            INFO(std::string(g.name) << " " << layer.name << " " << dtype_name(dtype) << " batch " << batch << " ("
                                     << rows << " rows): " << impl);
            CHECK(impl.find("ref") == std::string::npos);
            // A bf16 Linear on a bf16 kernel, an f32 one never on one.
            CHECK((impl.find("bf16") != std::string::npos) == (dtype == Dtype::bf16));
            CHECK_FALSE(linear.is_reference(rows));
        }
        // Usually one or two layouts serve every row count; a copy per row count would be a leak.
        INFO(std::string(g.name) << " " << layer.name << ": " << linear.packed_layouts() << " packed layouts");
        CHECK(linear.packed_layouts() <= 4);
    }
}

}  // namespace

TEST_CASE("Linear: no row count of the bundled and DeiT geometries runs oneDNN's reference code") {
    const Geometry geometries[] = {
        // The bundled Fashion-MNIST models: 28 px, patch 4, 1 channel, 49 patches + cls.
        {"bundled fashion", 128, 512, 1 * 4 * 4, 50, 49, 10},
        {"deit_tiny 224", 192, 768, 3 * 16 * 16, 197, 196, 1000},
        {"deit_small 224", 384, 1536, 3 * 16 * 16, 197, 196, 1000},
        {"deit_base 224", 768, 3072, 3 * 16 * 16, 197, 196, 1000},
        {"deit_tiny 384", 192, 768, 3 * 16 * 16, 577, 576, 1000},
        {"deit_small 384", 384, 1536, 3 * 16 * 16, 577, 576, 1000},
        {"deit_base 384", 768, 3072, 3 * 16 * 16, 577, 576, 1000},
    };
    for (const Geometry& g : geometries) check_geometry(g);
    // bf16 (where the CPU has it): the bundled and DeiT-S geometries, batches 1 to 16.
    if (dtype_unavailable(Dtype::bf16).empty())
        for (int i : {0, 2, 5}) check_geometry(geometries[i], Dtype::bf16, 16);
}

TEST_CASE("Linear: every row count computes x W^T + b, whichever packed layout serves it") {
    const int in = 128, out = 512;
    const std::vector<float> weight = seeded((size_t)in * out, 3), bias = seeded(out, 4);
    Linear linear(weight.data(), bias.data(), in, out, LinearEpilogue::bias, 50);
    for (int rows : {1, 2, 7, 50, 100, 400, 1600, 3200}) {
        const std::vector<float> x = seeded((size_t)rows * in, 5 + rows);
        std::vector<float> y((size_t)rows * out);
        linear.forward(x.data(), y.data(), rows);
        double worst = 0;
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < out; o++) {
                double expected = bias[o];
                for (int i = 0; i < in; i++) expected += (double)x[(size_t)r * in + i] * weight[(size_t)o * in + i];
                worst = std::max(worst, std::fabs(expected - y[(size_t)r * out + o]));
            }
        INFO(rows << " rows (" << linear.implementation(rows) << "): worst error " << worst);
        CHECK(worst < 1e-4);
    }
}

// oneDNN fixes a primitive's thread split when it creates it: a plan made at one thread count and
// reused at another runs on the first count's threads (`bench --threads 1,2` timed its two-thread
// runs on one thread). Plans are per thread count, and each gives the same values.
TEST_CASE("Linear: a plan made at one thread count is not reused at another") {
    const int saved = threads_get();
    const int in = 64, out = 48, rows = 40;
    const auto weight = seeded(static_cast<size_t>(out) * in, 3), bias = seeded(out, 4), x = seeded(rows * in, 5);
    Linear linear(weight.data(), bias.data(), in, out, LinearEpilogue::bias, rows);
    std::vector<float> one(static_cast<size_t>(rows) * out), two(one.size());
    threads_set(1);
    linear.forward(x.data(), one.data(), rows);
    CHECK(linear.planned().size() == 1);
    threads_set(2);
    CHECK(linear.planned().empty());  // nothing planned for two threads yet
    linear.forward(x.data(), two.data(), rows);
    CHECK(linear.planned().size() == 1);
    threads_set(1);
    CHECK(linear.planned().size() == 1);  // the one-thread plan is still there, and reused
    threads_set(saved);
    for (size_t i = 0; i < one.size(); i++) CHECK(std::fabs(one[i] - two[i]) <= 1e-5f * (1.f + std::fabs(one[i])));
}
