// Decoding (formats, colour conversion, refusals), resize + crop geometry, normalisation, and the
// compiled-in class names. Pixel agreement with Pillow/torchvision on real photos is in
// tests/py/test_preprocess.py; this file checks what can be reasoned out by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "image/image.h"
#include "datasets/labels.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "stb_image_write.h"
#pragma GCC diagnostic pop

using namespace sparsifiner;

namespace {

using bytes_t = std::vector<uint8_t>;

void append_bytes(void* context, void* data, int size) {
    auto* out = static_cast<bytes_t*>(context);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

// A small image with a distinct value per pixel and channel, so misplaced pixels show.
bytes_t pattern(int w, int h, int channels) {
    bytes_t p(static_cast<size_t>(w) * h * channels);
    for (size_t i = 0; i < p.size(); i++) p[i] = static_cast<uint8_t>((i * 37 + 11) % 251);
    return p;
}

std::string error_of(const bytes_t& data, const std::string& label = "test.img") {
    try {
        image_decode(data.data(), data.size(), label);
    } catch (const ImageError& e) {
        return e.what();
    }
    return "";
}

// PNG signature and an IHDR chunk claiming width x height, nothing after: enough for the header
// check, which must refuse before any pixel buffer exists. (stb does not check the CRC.)
bytes_t png_header(uint32_t width, uint32_t height) {
    bytes_t b = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (uint32_t v : {width, height})
        for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
    for (uint8_t v : {8, 2, 0, 0, 0, 0, 0, 0, 0}) b.push_back(v);  // 8-bit RGB, then a CRC
    return b;
}

RgbImage noise_image(int w, int h, unsigned seed) {
    std::mt19937 rng(seed);
    RgbImage image;
    image.width = w;
    image.height = h;
    image.pixels.resize(static_cast<size_t>(w) * h * 3);
    for (auto& v : image.pixels) v = static_cast<uint8_t>(rng() & 0xFF);
    return image;
}

bool same_block(const RgbImage& crop, const RgbImage& src, int top, int left) {
    for (int y = 0; y < crop.height; y++)
        for (int x = 0; x < crop.width * 3; x++)
            if (crop.pixels[static_cast<size_t>(y) * crop.width * 3 + x] !=
                src.pixels[(static_cast<size_t>(y + top) * src.width + left) * 3 + x])
                return false;
    return true;
}

}  // namespace

TEST_CASE("decode refuses bad input with one line naming the file") {
    CHECK(error_of({}) == "test.img: empty file, not an image");
    CHECK(error_of({'h', 'e', 'l', 'l', 'o', 0, 1, 2, 3}).rfind("test.img: not a supported image (", 0) == 0);

    bytes_t png;
    bytes_t pixels = pattern(64, 64, 3);
    REQUIRE(stbi_write_png_to_func(append_bytes, &png, 64, 64, 3, pixels.data(), 64 * 3));
    bytes_t truncated(png.begin(), png.begin() + png.size() / 2);
    std::string message = error_of(truncated, "cut.png");
    CHECK(message.rfind("cut.png: ", 0) == 0);
    CHECK(message.find('\n') == std::string::npos);

    CHECK(error_of(png_header(20000, 10)).find("image too large (20000x10") != std::string::npos);
    CHECK(error_of(png_header(16000, 16000)).find("image too large (16000x16000") != std::string::npos);
    // Within the caps the header alone is accepted, and decoding then fails on the missing data.
    CHECK(error_of(png_header(4000, 3000)).find("cannot decode image") != std::string::npos);
}

TEST_CASE("image_load reports files it cannot open") {
    std::string missing = "/nonexistent_dir_sparsifiner/x.png";
    try {
        image_load(missing);
        FAIL("expected an ImageError");
    } catch (const ImageError& e) {
        CHECK(std::string(e.what()) == missing + ": cannot open: No such file or directory");
    }
    CHECK_THROWS_AS(image_load("/"), ImageError);
}

TEST_CASE("each format decodes to the pixels written") {
    const int w = 5, h = 3;
    bytes_t rgb = pattern(w, h, 3);
    auto check_rgb = [&](const bytes_t& file, const char* what) {
        INFO(what);
        RgbImage image = image_decode(file.data(), file.size(), what);
        REQUIRE(image.width == w);
        REQUIRE(image.height == h);
        CHECK(image.pixels == rgb);
    };
    bytes_t png, bmp, tga;
    REQUIRE(stbi_write_png_to_func(append_bytes, &png, w, h, 3, rgb.data(), w * 3));
    REQUIRE(stbi_write_bmp_to_func(append_bytes, &bmp, w, h, 3, rgb.data()));
    REQUIRE(stbi_write_tga_to_func(append_bytes, &tga, w, h, 3, rgb.data()));
    check_rgb(png, "png");
    check_rgb(bmp, "bmp");
    check_rgb(tga, "tga");

    bytes_t ppm = {'P', '6', '\n', '5', ' ', '3', '\n', '2', '5', '5', '\n'};
    ppm.insert(ppm.end(), rgb.begin(), rgb.end());
    check_rgb(ppm, "ppm");

    // JPEG is lossy: a flat colour survives it to within a level or two.
    bytes_t flat(static_cast<size_t>(16) * 16 * 3);
    for (size_t i = 0; i < flat.size(); i += 3) flat[i] = 200, flat[i + 1] = 40, flat[i + 2] = 90;
    bytes_t jpg;
    REQUIRE(stbi_write_jpg_to_func(append_bytes, &jpg, 16, 16, 3, flat.data(), 95));
    RgbImage decoded = image_decode(jpg.data(), jpg.size(), "jpg");
    REQUIRE(decoded.width == 16);
    for (size_t i = 0; i < flat.size(); i++) CHECK(std::abs(decoded.pixels[i] - flat[i]) <= 3);

    // 2x2 GIF with a 4-colour palette (red, green, blue, white), written by Pillow.
    const bytes_t gif = {0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x02, 0x00, 0x02, 0x00, 0x81, 0x00,
                         0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                         0xff, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x08,
                         0x07, 0x00, 0x01, 0x04, 0x10, 0x30, 0x20, 0x20, 0x00, 0x3b};
    RgbImage g = image_decode(gif.data(), gif.size(), "gif");
    REQUIRE(g.width == 2);
    REQUIRE(g.height == 2);
    CHECK(g.pixels == bytes_t{255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255});
}

TEST_CASE("grey is replicated and alpha dropped without compositing") {
    const int w = 4, h = 2;
    bytes_t grey = pattern(w, h, 1);
    bytes_t grey_alpha = pattern(w, h, 2);
    bytes_t rgba = pattern(w, h, 4);
    for (size_t i = 3; i < rgba.size(); i += 8) rgba[i] = 0;  // fully transparent pixels too
    for (int channels : {1, 2, 4}) {
        const bytes_t& src = channels == 1 ? grey : channels == 2 ? grey_alpha : rgba;
        bytes_t png;
        REQUIRE(stbi_write_png_to_func(append_bytes, &png, w, h, channels, src.data(), w * channels));
        RgbImage image = image_decode(png.data(), png.size(), "conv.png");
        REQUIRE(image.pixels.size() == static_cast<size_t>(w) * h * 3);
        for (int i = 0; i < w * h; i++) {
            INFO("channels " << channels << " pixel " << i);
            for (int c = 0; c < 3; c++) {
                uint8_t expected = channels == 4 ? src[i * 4 + c] : src[i * channels];
                CHECK(image.pixels[i * 3 + c] == expected);
            }
        }
    }
}

TEST_CASE("resize_crop: no resampling when the size already fits, torchvision's crop offsets") {
    RgbImage square = noise_image(224, 224, 1);
    CHECK(image_resize_crop(square, 224, 1.0f).pixels == square.pixels);

    // Shorter side already 224: no resize; CenterCrop's top is Python's round((h - 224) / 2),
    // which rounds halves to even: 33 / 2 = 16.5 -> 16, 35 / 2 = 17.5 -> 18.
    RgbImage tall = noise_image(224, 257, 2);
    RgbImage crop = image_resize_crop(tall, 224, 1.0f);
    CHECK(same_block(crop, tall, 16, 0));
    RgbImage taller = noise_image(224, 259, 3);
    CHECK(same_block(image_resize_crop(taller, 224, 1.0f), taller, 18, 0));

    // timm's floor(224 / 0.8) is 280 in Python doubles (a float 0.8 would give 279): a 300 x 280
    // image then needs no resampling, and the crop starts at (28, 38).
    RgbImage wide = noise_image(300, 280, 4);
    CHECK(same_block(image_resize_crop(wide, 224, 0.8f), wide, 28, 38));

    RgbImage big = noise_image(640, 427, 5);
    RgbImage out = image_resize_crop(big, 224, 0.875f);
    CHECK(out.width == 224);
    CHECK(out.height == 224);
    CHECK_THROWS_AS(image_resize_crop(big, 0, 0.875f), ImageError);
    CHECK_THROWS_AS(image_resize_crop(big, 224, 0.0f), ImageError);
    CHECK_THROWS_AS(image_resize_crop(big, 224, NAN), ImageError);
}

TEST_CASE("resize_crop pads a crop larger than the resized image with black") {
    // crop_pct 2: shorter side floor(8 / 2) = 4, so an 4 x 6 image is not resized and the 8 x 8
    // crop puts it at rows 1..6 ((8 - 6) // 2 = 1), columns 2..5 ((8 - 4) // 2 = 2).
    RgbImage small = noise_image(4, 6, 6);
    RgbImage out = image_resize_crop(small, 8, 2.0f);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++)
            for (int c = 0; c < 3; c++) {
                bool inside = y >= 1 && y < 7 && x >= 2 && x < 6;
                uint8_t expected = inside ? small.pixels[((y - 1) * 4 + (x - 2)) * 3 + c] : 0;
                CHECK(out.pixels[(y * 8 + x) * 3 + c] == expected);
            }
}

TEST_CASE("normalize: ImageNet mean and std, channels first") {
    RgbImage image;
    image.width = 2;
    image.height = 1;
    image.pixels = {0, 255, 128, 255, 0, 64};
    std::vector<float> out(6);
    image_normalize(image, ImagePreprocess(), out.data());  // the defaults are ImageNet's
    const double mean[3] = {0.485, 0.456, 0.406}, std_dev[3] = {0.229, 0.224, 0.225};
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < 2; x++) {
            double expected = (image.pixels[x * 3 + c] / 255.0 - mean[c]) / std_dev[c];
            CHECK(out[c * 2 + x] == doctest::Approx(expected).epsilon(1e-6));
        }

    ImagePreprocess own;  // a model's own statistics, per channel
    own.mean = {0.1f, 0.2f, 0.3f};
    own.std_dev = {0.5f, 0.25f, 2.0f};
    image_normalize(image, own, out.data());
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < 2; x++)
            CHECK(out[c * 2 + x] ==
                  doctest::Approx((image.pixels[x * 3 + c] / 255.0 - own.mean[c]) / own.std_dev[c]).epsilon(1e-6));
    own.mean = {0.5f};
    CHECK_THROWS_AS(image_normalize(image, own, out.data()), ImageError);  // 1 mean for 3 channels
}

TEST_CASE("grey: ITU-R 601-2 luma rounded to the nearest level, grey levels unchanged") {
    // 0.299 * 255 = 76.2, 0.587 * 255 = 149.7, 0.114 * 255 = 29.1, 0.299 * 200 + 0.587 * 100 +
    // 0.114 * 50 = 124.2: Pillow's convert("L") rounds each to the nearest integer.
    RgbImage image;
    image.width = 260;
    image.height = 1;
    image.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 200, 100, 50};
    for (int v = 0; v < 256; v++) image.pixels.insert(image.pixels.end(), {(uint8_t)v, (uint8_t)v, (uint8_t)v});
    const RgbImage grey = image_to_grey(image);
    const uint8_t expected[4] = {76, 150, 29, 124};
    for (int i = 0; i < 260; i++) {
        const uint8_t want = i < 4 ? expected[i] : static_cast<uint8_t>(i - 4);
        INFO("pixel " << i);
        CHECK(grey.pixels[i * 3] == want);
        CHECK(grey.pixels[i * 3 + 1] == want);
        CHECK(grey.pixels[i * 3 + 2] == want);
    }

    // One channel: the luma, normalised with the model's single mean and std.
    ImagePreprocess p;
    p.channels = 1;
    p.mean = {0.25f};
    p.std_dev = {0.5f};
    std::vector<float> out(260);
    image_normalize(image, p, out.data());
    for (int i = 0; i < 260; i++) {
        const double luma = i < 4 ? expected[i] : i - 4;
        CHECK(out[i] == doctest::Approx((luma / 255.0 - 0.25) / 0.5).epsilon(1e-6));
    }
}

TEST_CASE("prepare: a grey model's input at its own size goes in pixel for pixel") {
    RgbImage image = noise_image(28, 28, 7);
    for (size_t i = 0; i < image.pixels.size(); i += 3) image.pixels[i + 1] = image.pixels[i + 2] = image.pixels[i];
    ImagePreprocess p;
    p.channels = 1;
    p.mean = {0.0f};
    p.std_dev = {1.0f};
    p.crop_pct = 1.0f;
    std::vector<float> out(28 * 28);
    RgbImage crop = image_prepare(image, 28, p, out.data());
    CHECK(crop.pixels == image.pixels);
    for (int i = 0; i < 28 * 28; i++) CHECK(out[i] == static_cast<float>(image.pixels[i * 3]) / 255.0f);
}

TEST_CASE("ImageNet-1k class names are compiled in, in the standard order") {
    const auto& names = imagenet1k_class_names();
    REQUIRE(names.size() == 1000);
    CHECK(names[0] == "tench");
    CHECK(names[281] == "tabby");
    CHECK(names[999] == "toilet tissue");
    for (const auto& n : names) CHECK_FALSE(n.empty());

    CHECK(class_names_for(1000, {}, "").at(281) == "tabby");
    CHECK(class_names_for(1000, {}, "imagenet1k").size() == 1000);
    CHECK(class_names_for(2, {"cat", "dog"}, "imagenet1k") == std::vector<std::string>{"cat", "dog"});
    CHECK(class_names_for(3, {}, "") == std::vector<std::string>{"class_0", "class_1", "class_2"});
    // A model name list of the wrong length is not trusted.
    CHECK(class_names_for(2, {"only one"}, "").at(1) == "class_1");
}
