// JPEG through libjpeg-turbo when the build links it (SPARSIFINER_HAVE_LIBJPEG): it is the decoder
// Pillow uses, with the same defaults (integer IDCT, fancy chroma upsampling, its YCbCr->RGB), so
// the pixels equal PIL.Image.open(...).convert("RGB") bit for bit. stb_image's JPEG decoder
// rounds differently (up to 10/255 on 4:2:2 files), which after an upscale breaks SPEC 6's 2/255.
// Without libjpeg, image_decode falls back to stb_image for JPEG too.
#include "image/image_jpeg.h"

#ifdef SPARSIFINER_HAVE_LIBJPEG

#include <csetjmp>
#include <cstdio>

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

}  // namespace

// Everything that must survive the longjmp lives in the caller's frame or on the heap, and no
// object with a destructor is created between setjmp and the libjpeg calls that may jump.
static bool decode_with_libjpeg(const uint8_t* bytes, size_t size, const image_limits& limits,
                                RgbImage& image, std::string& problem) {
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
    // CMYK and YCCK cannot become RGB inside libjpeg: leave those to stb_image.
    if (info.jpeg_color_space != JCS_GRAYSCALE && info.jpeg_color_space != JCS_YCbCr &&
        info.jpeg_color_space != JCS_RGB) {
        jpeg_destroy_decompress(&info);
        return false;
    }
    long long width = info.image_width, height = info.image_height;
    if (width > limits.max_side || height > limits.max_side ||
        width * height > limits.max_pixels) {
        jpeg_destroy_decompress(&info);
        problem = "image too large (" + std::to_string(width) + "x" + std::to_string(height) +
                  ", at most " + std::to_string(limits.max_side) + " per side and 2^27 pixels)";
        return false;
    }
    info.out_color_space = JCS_RGB;
    jpeg_start_decompress(&info);
    image.width = static_cast<int>(info.output_width);
    image.height = static_cast<int>(info.output_height);
    image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = &image.pixels[static_cast<size_t>(info.output_scanline) * image.width * 3];
        jpeg_read_scanlines(&info, &row, 1);
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
    if (decode_with_libjpeg(bytes, size, limits, image, problem)) return jpeg_result::decoded;
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
