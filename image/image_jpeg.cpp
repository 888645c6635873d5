// JPEG through libjpeg-turbo when the build links it (SPARSIFINER_HAVE_LIBJPEG): it is the decoder
// Pillow uses, with the same defaults (integer IDCT, fancy chroma upsampling, its YCbCr->RGB), so
// the pixels equal PIL.Image.open(...).convert("RGB") bit for bit. stb_image's JPEG decoder
// rounds differently (up to 10/255 on 4:2:2 files), which after an upscale breaks SPEC 6's 2/255.
// Without libjpeg, image_decode falls back to stb_image for JPEG too.
#include "image/image_jpeg.h"

#ifdef SPARSIFINER_HAVE_LIBJPEG

#include <csetjmp>
#include <cstdio>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>

namespace sparsifiner {

namespace {

struct jpeg_failure {
    jpeg_error_mgr manager;  // first member: libjpeg hands us a pointer to it
    std::jmp_buf jump;
    bool truncated = false;
    char message[JMSG_LENGTH_MAX] = {0};
};

void on_error(j_common_ptr info) {
    jpeg_failure* failure = reinterpret_cast<jpeg_failure*>(info->err);
    info->err->format_message(info, failure->message);
    std::longjmp(failure->jump, 1);
}

// Warnings are silent (libjpeg would print them), except a premature end of data: libjpeg pads
// such a file with grey and carries on, Pillow refuses it, and so do we.
void on_message(j_common_ptr info, int level) {
    jpeg_failure* failure = reinterpret_cast<jpeg_failure*>(info->err);
    if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) failure->truncated = true;
}

// Pillow's CMYK -> RGB: R = (255 - K) - C (255 - K) / 255 with its rounding of the division.
void cmyk_to_rgb(const uint8_t* cmyk, int width, bool inverted, uint8_t* rgb) {
    for (int x = 0; x < width; x++) {
        int ink[4];
        for (int c = 0; c < 4; c++) ink[c] = inverted ? 255 - cmyk[4 * x + c] : cmyk[4 * x + c];
        const int paper = 255 - ink[3];
        for (int c = 0; c < 3; c++) {
            const int product = ink[c] * paper + 128;
            const int value = paper - (((product >> 8) + product) >> 8);
            rgb[3 * x + c] = static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
        }
    }
}

}  // namespace

// Everything that must survive the longjmp lives in the caller's frame or on the heap, and no
// object with a destructor is created between setjmp and the libjpeg calls that may jump.
static bool decode_with_libjpeg(const uint8_t* bytes, size_t size, const image_limits& limits,
                                RgbImage& image, std::vector<uint8_t>& cmyk_row, std::string& problem) {
    jpeg_decompress_struct info;
    jpeg_failure failure;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = on_error;
    failure.manager.emit_message = on_message;
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&info);
        problem = std::string("cannot decode JPEG (") + failure.message + ")";
        return false;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, bytes, static_cast<unsigned long>(size));
    jpeg_read_header(&info, TRUE);
    // CMYK and YCCK cannot become RGB inside libjpeg: it gives CMYK, converted below as Pillow
    // does. (They are not handed to stb_image: its JPEG parser must never see untrusted bytes.)
    const bool cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    if (!cmyk && info.jpeg_color_space != JCS_GRAYSCALE && info.jpeg_color_space != JCS_YCbCr &&
        info.jpeg_color_space != JCS_RGB) {
        jpeg_destroy_decompress(&info);
        problem = "unsupported JPEG colour space";
        return false;
    }
    long long width = info.image_width, height = info.image_height;
    if (width > limits.max_side || height > limits.max_side ||
        width * height > limits.max_pixels) {
        jpeg_destroy_decompress(&info);
        problem = "image too large (" + std::to_string(width) + "x" + std::to_string(height) +
                  ", at most " + std::to_string(limits.max_side) + " per side and " + std::to_string(limits.max_pixels) + " pixels)";
        return false;
    }
    info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&info);
    image.width = static_cast<int>(info.output_width);
    image.height = static_cast<int>(info.output_height);
    image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
    // One CMYK row at a time, in the caller's buffer (it survives a longjmp).
    if (cmyk) cmyk_row.resize(static_cast<size_t>(image.width) * 4);
    const bool inverted = info.saw_Adobe_marker;  // Adobe's CMYK JPEGs store inverted ink
    while (info.output_scanline < info.output_height) {
        uint8_t* out = &image.pixels[static_cast<size_t>(info.output_scanline) * image.width * 3];
        JSAMPROW row = cmyk ? cmyk_row.data() : out;
        jpeg_read_scanlines(&info, &row, 1);
        if (cmyk) cmyk_to_rgb(cmyk_row.data(), image.width, inverted, out);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    if (failure.truncated) {
        problem = "cannot decode JPEG (the file is truncated)";
        return false;
    }
    return true;
}

jpeg_result image_decode_jpeg(const uint8_t* bytes, size_t size, const image_limits& limits,
                              RgbImage& image, std::string& problem) {
    problem.clear();
    std::vector<uint8_t> cmyk_row;
    if (decode_with_libjpeg(bytes, size, limits, image, cmyk_row, problem)) return jpeg_result::decoded;
    return problem.empty() ? jpeg_result::not_handled : jpeg_result::failed;
}

const char* image_jpeg_decoder() { return "libjpeg-turbo"; }

}  // namespace sparsifiner

#else

namespace sparsifiner {

jpeg_result image_decode_jpeg(const uint8_t*, size_t, const image_limits&, RgbImage&, std::string&) {
    return jpeg_result::not_handled;
}

const char* image_jpeg_decoder() { return "stb_image"; }

}  // namespace sparsifiner

#endif
