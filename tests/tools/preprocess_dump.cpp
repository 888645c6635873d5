// Dumps what the image code produces so tests/py/test_preprocess.py can compare it with
// Pillow / torchvision. Every output file starts with int32 width, int32 height (little endian),
// then the u8 RGB pixels (HWC); the preprocess mode appends the normalised floats (f32 CHW).
//   preprocess_dump IMAGE SIZE CROP_PCT OUT.bin [CHANNELS MEAN STD]
//       decode, (grey,) resize + centre crop, normalise; MEAN and STD are comma lists, as in the
//       weight metadata (default: 3 channels, ImageNet's); a grey crop is written as R = G = B
//   preprocess_dump --resize IMAGE WIDTH HEIGHT OUT.bin   decode, Pillow bicubic resize only
//   preprocess_dump --decode IMAGE OUT.bin           decode only
//   preprocess_dump --decoder                        print the JPEG decoder in use
#include "image/image.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace sparsifiner;

namespace {

int usage() {
    std::fprintf(stderr,
                 "usage: preprocess_dump IMAGE SIZE CROP_PCT OUT.bin [CHANNELS MEAN STD]\n"
                 "       preprocess_dump --resize IMAGE WIDTH HEIGHT OUT.bin\n"
                 "       preprocess_dump --decode IMAGE OUT.bin\n"
                 "       preprocess_dump --decoder\n");
    return 2;
}

int parse_int(const char* text) {
    char* end = nullptr;
    long v = std::strtol(text, &end, 10);
    if (end == text || *end || v <= 0 || v > 1 << 20) {
        std::fprintf(stderr, "preprocess_dump: bad size '%s'\n", text);
        std::exit(2);
    }
    return static_cast<int>(v);
}

// "0.5" or "0.1,0.2,0.3": one value, repeated, or one per channel.
std::vector<float> parse_floats(const std::string& text, int channels) {
    std::vector<float> values;
    size_t start = 0;
    while (true) {
        size_t comma = text.find(',', start);
        values.push_back(std::strtof(text.substr(start, comma - start).c_str(), nullptr));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (values.size() == 1) values.assign(channels, values[0]);
    return values;
}

void write_out(const std::string& path, const RgbImage& image, const std::vector<float>& extra) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) {
        std::perror(path.c_str());
        std::exit(4);
    }
    int32_t dims[2] = {image.width, image.height};
    bool ok = std::fwrite(dims, sizeof dims, 1, f) == 1 &&
              std::fwrite(image.pixels.data(), 1, image.pixels.size(), f) == image.pixels.size() &&
              std::fwrite(extra.data(), sizeof(float), extra.size(), f) == extra.size();
    if (std::fclose(f) != 0 || !ok) {
        std::fprintf(stderr, "%s: write failed\n", path.c_str());
        std::exit(4);
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::vector<std::string> args(argv + 1, argv + argc);
        if (args.size() == 1 && args[0] == "--decoder") {
            std::printf("%s\n", image_jpeg_decoder());
        } else if (args.size() == 3 && args[0] == "--decode") {
            write_out(args[2], image_load(args[1]), {});
        } else if (args.size() == 5 && args[0] == "--resize") {
            RgbImage image = image_load(args[1]);
            write_out(args[4], image_resize_bicubic(image, parse_int(args[2].c_str()),
                                                    parse_int(args[3].c_str())), {});
        } else if ((args.size() == 4 || args.size() == 7) && args[0][0] != '-') {
            int size = parse_int(args[1].c_str());
            ImagePreprocess preprocess;
            preprocess.crop_pct = std::strtof(args[2].c_str(), nullptr);
            if (args.size() == 7) {
                preprocess.channels = parse_int(args[4].c_str());
                preprocess.mean = parse_floats(args[5], preprocess.channels);
                preprocess.std_dev = parse_floats(args[6], preprocess.channels);
            }
            std::vector<float> normalised(static_cast<size_t>(preprocess.channels) * size * size);
            RgbImage crop = image_prepare(image_load(args[0]), size, preprocess, normalised.data());
            write_out(args[3], crop, normalised);
        } else {
            return usage();
        }
    } catch (const ImageError& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
