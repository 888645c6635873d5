// Runs resample_bicubic_f32 on a raw float file so tests/py/test_resample.py can compare it with
// torch.nn.functional.interpolate(bicubic, antialias=True).
//   resample_dump IN.f32 CHANNELS IN_H IN_W OUT_H OUT_W OUT.f32
// IN.f32 holds CHANNELS*IN_H*IN_W little-endian floats (planar); OUT.f32 gets CHANNELS*OUT_H*OUT_W.
#include "image/resample.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

int parse_int(const char* text) {
    char* end = nullptr;
    long v = std::strtol(text, &end, 10);
    if (end == text || *end || v <= 0 || v > 1 << 16) {
        std::fprintf(stderr, "resample_dump: bad size '%s'\n", text);
        std::exit(2);
    }
    return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 8) {
        std::fprintf(stderr, "usage: resample_dump IN.f32 CHANNELS IN_H IN_W OUT_H OUT_W OUT.f32\n");
        return 2;
    }
    int channels = parse_int(argv[2]), in_h = parse_int(argv[3]), in_w = parse_int(argv[4]);
    int out_h = parse_int(argv[5]), out_w = parse_int(argv[6]);

    std::vector<float> src(static_cast<size_t>(channels) * in_h * in_w);
    std::FILE* f = std::fopen(argv[1], "rb");
    if (!f) {
        std::perror(argv[1]);
        return 1;
    }
    size_t got = std::fread(src.data(), sizeof(float), src.size(), f);
    std::fclose(f);
    if (got != src.size()) {
        std::fprintf(stderr, "%s: expected %zu floats, read %zu\n", argv[1], src.size(), got);
        return 1;
    }

    std::vector<float> dst(static_cast<size_t>(channels) * out_h * out_w);
    sparsifiner::resample_bicubic_f32(src.data(), channels, in_h, in_w, dst.data(), out_h, out_w);

    f = std::fopen(argv[7], "wb");
    if (!f) {
        std::perror(argv[7]);
        return 4;
    }
    bool ok = std::fwrite(dst.data(), sizeof(float), dst.size(), f) == dst.size();
    if (std::fclose(f) != 0 || !ok) {
        std::fprintf(stderr, "%s: write failed\n", argv[7]);
        return 4;
    }
    return 0;
}
