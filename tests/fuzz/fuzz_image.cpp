// libFuzzer target for the image front door: image_decode on arbitrary bytes (every format it
// reads: JPEG through libjpeg, the others through the structure checks and stb_image) and, when
// a picture comes out, the whole evaluation transform (grey and RGB, resize + crop, normalise).
// An ImageError with one line is the expected answer to garbage; anything else (a crash, a
// sanitizer report, another exception, a multi-line message, NaN pixels) is a finding.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "image/image.h"

namespace {

// Small enough that a header promising a huge picture is refused before the decoder allocates
// it, so a run measures decoding, not memset.
constexpr long long kFuzzMaxPixels = 1 << 20;

void prepare(const sparsifiner::RgbImage& image, int channels) {
    sparsifiner::ImagePreprocess p;
    p.channels = channels;
    if (channels == 1) p.mean = p.std_dev = {0.5f};
    const int size = 24;
    std::vector<float> out(static_cast<size_t>(channels) * size * size);
    sparsifiner::RgbImage crop = sparsifiner::image_prepare(image, size, p, out.data());
    if (crop.width != size || crop.height != size) __builtin_trap();
    for (float v : out)
        if (!std::isfinite(v)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        sparsifiner::RgbImage image = sparsifiner::image_decode(data, size, "fuzz.img", kFuzzMaxPixels);
        if (image.width <= 0 || image.height <= 0 ||
            image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
            __builtin_trap();
        prepare(image, 3);
        prepare(image, 1);
    } catch (const sparsifiner::ImageError& error) {
        if (std::strchr(error.what(), '\n') != nullptr) __builtin_trap();
    }
    return 0;
}
