#pragma once
// Internal to image/image_decode.cpp: structural checks on the bytes of the formats stb_image
// decodes, made BEFORE stb sees them. stb_image reads past its buffer on 16-bit PNM and decodes
// truncated PNM, GIF, BMP and TGA files from whatever the missing bytes happen to be; Pillow
// refuses those files, and so do we. PNG: only an empty IDAT chunk before the image data (stb
// copies it into a null buffer).
#include <cstddef>
#include <cstdint>
#include <string>

namespace sparsifiner {

// "" when the file's structure is complete as far as its format can tell without decoding
// (or the format is not one checked here); otherwise the problem, without the file name.
std::string image_preflight(const uint8_t* bytes, size_t size);
// TGA has no signature: call this only for a file stb_image took for a TGA (no other signature).
std::string image_preflight_tga(const uint8_t* bytes, size_t size);

}  // namespace sparsifiner
