// Bicubic resampling (image/resample.cpp): identity, constant images, and one shrink worked out by
// hand. Bit-exactness against Pillow and torch is in tests/py/test_preprocess.py and
// tests/py/test_resample.py.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "image/image.h"
#include "image/resample.h"

using namespace sparsifiner;

TEST_CASE("f32 resample: same size is the identity, constants stay constant") {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    std::vector<float> x(2 * 5 * 7);
    for (auto& v : x) v = normal(rng);
    std::vector<float> y(x.size());
    resample_bicubic_f32(x.data(), 2, 5, 7, y.data(), 5, 7);
    CHECK(y == x);

    const int sizes[][2] = {{24, 24}, {7, 7}, {3, 30}, {1, 1}, {14, 15}};
    std::vector<float> flat(3 * 14 * 14, -1.25f);
    for (const auto& s : sizes) {
        std::vector<float> out(3 * s[0] * s[1]);
        resample_bicubic_f32(flat.data(), 3, 14, 14, out.data(), s[0], s[1]);
        for (float v : out) CHECK(v == doctest::Approx(-1.25f).epsilon(1e-6));
    }
    CHECK_THROWS(resample_bicubic_f32(flat.data(), 3, 14, 14, y.data(), 0, 3));
}

TEST_CASE("a 4 -> 2 shrink worked by hand") {
    // Scale 2: the kernel is stretched to support 4, the centre of output 0 is input 1.0, and
    // all four inputs fall in its window at distances 0.5, 0.5, 1.5, 2.5 input pixels, i.e.
    // 0.25, 0.25, 0.75, 1.25 in kernel units. Keys with a = -0.5:
    //   K(0.25) = 0.8671875, K(0.75) = 0.2265625, K(1.25) = -0.0703125, sum 1.890625.
    // For the row [0, 0, 255, 255]: out0 = 255 * (0.2265625 - 0.0703125) / 1.890625
    // = 21.0743801..., and out1 = 255 - out0 by symmetry.
    const double out0 = 255.0 * (0.2265625 - 0.0703125) / 1.890625;
    std::vector<float> row = {0, 0, 255, 255};
    std::vector<float> out(2);
    resample_bicubic_f32(row.data(), 1, 1, 4, out.data(), 1, 2);
    CHECK(out[0] == doctest::Approx(out0).epsilon(1e-6));
    CHECK(out[1] == doctest::Approx(255.0 - out0).epsilon(1e-6));

    // The same along the height (the second pass), and in u8 where 21.07 and 233.93 round.
    std::vector<float> column = {0, 0, 255, 255};
    resample_bicubic_f32(column.data(), 1, 4, 1, out.data(), 2, 1);
    CHECK(out[0] == doctest::Approx(out0).epsilon(1e-6));

    RgbImage image;
    image.width = 4;
    image.height = 1;
    image.pixels = {0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255};
    RgbImage small = image_resize_bicubic(image, 2, 1);
    CHECK(small.pixels == std::vector<uint8_t>{21, 21, 21, 234, 234, 234});
}

TEST_CASE("u8 resample: identity and constant images") {
    std::mt19937 rng(9);
    RgbImage image;
    image.width = 9;
    image.height = 6;
    image.pixels.resize(9 * 6 * 3);
    for (auto& v : image.pixels) v = static_cast<uint8_t>(rng() & 0xFF);
    CHECK(image_resize_bicubic(image, 9, 6).pixels == image.pixels);

    for (uint8_t level : {0, 1, 77, 254, 255}) {
        RgbImage flat;
        flat.width = 31;
        flat.height = 17;
        flat.pixels.assign(31 * 17 * 3, level);
        const int sizes[][2] = {{64, 64}, {5, 3}, {31, 40}, {10, 17}, {1, 1}};
        for (const auto& s : sizes) {
            RgbImage out = image_resize_bicubic(flat, s[0], s[1]);
            REQUIRE(out.pixels.size() == static_cast<size_t>(s[0]) * s[1] * 3);
            for (uint8_t v : out.pixels) CHECK(v == level);
        }
    }
    CHECK_THROWS_AS(image_resize_bicubic(image, 0, 4), ImageError);
}

TEST_CASE("u8 resample clamps the bicubic overshoot to 0..255") {
    // A hard black/white edge grown 4x rings past both ends; the result must saturate, not wrap.
    RgbImage edge;
    edge.width = 6;
    edge.height = 1;
    edge.pixels = {0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255};
    RgbImage out = image_resize_bicubic(edge, 24, 1);
    int zeros = 0, full = 0;
    for (uint8_t v : out.pixels) {
        zeros += v == 0;
        full += v == 255;
    }
    // Without clamping the undershoot just left of the edge would wrap to values near 255 there.
    for (int x = 0; x < 10; x++) CHECK(out.pixels[x * 3] <= 5);
    for (int x = 14; x < 24; x++) CHECK(out.pixels[x * 3] >= 250);
    CHECK(zeros > 0);
    CHECK(full > 0);
}
