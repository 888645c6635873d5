// Each check walks the format's own structure with bounds on every read: the header fields stb
// would trust, and the number of bytes the header promises. Compressed payloads (PNG's zlib,
// GIF's LZW) are left to the decoder; only their framing is checked here.
#include "image/image_preflight.h"

#include <string>

namespace sparsifiner {

namespace {

// A bounded reader: every read past the end sets `short_read` and returns 0.
struct Cursor {
    const uint8_t* bytes;
    size_t size;
    size_t pos = 0;
    bool short_read = false;

    bool has(size_t n) const { return pos <= size && size - pos >= n; }
    uint8_t u8() {
        if (!has(1)) {
            short_read = true;
            return 0;
        }
        return bytes[pos++];
    }
    uint32_t le16() {
        const uint32_t lo = u8();
        return lo | (static_cast<uint32_t>(u8()) << 8);
    }
    uint32_t le32() {
        const uint32_t lo = le16();
        return lo | (le16() << 16);
    }
    uint32_t be32() {
        uint32_t value = 0;
        for (int i = 0; i < 4; i++) value = (value << 8) | u8();
        return value;
    }
    void skip(size_t n) {
        if (!has(n)) {
            short_read = true;
            pos = size;
            return;
        }
        pos += n;
    }
};

bool pnm_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// PNM P5 (grey) and P6 (RGB), binary: tokenised exactly as stb_image does (whitespace and '#'
// comments, a number ended by the one character after it), so that the header read here is
// the header stb reads.
std::string check_pnm(const uint8_t* bytes, size_t size) {
    const int channels = bytes[1] == '5' ? 1 : 3;
    size_t pos = 2;
    unsigned long long values[3] = {0, 0, 0};
    const char* names[3] = {"width", "height", "maxval"};
    for (int field = 0; field < 3; field++) {
        for (;;) {  // whitespace and comments
            while (pos < size && pnm_space(bytes[pos])) pos++;
            if (pos < size && bytes[pos] == '#') {
                while (pos < size && bytes[pos] != '\n' && bytes[pos] != '\r') pos++;
                continue;
            }
            break;
        }
        if (pos >= size) return "truncated PNM header";
        if (bytes[pos] < '0' || bytes[pos] > '9') return std::string("PNM header: ") + names[field] + " is not a number";
        while (pos < size && bytes[pos] >= '0' && bytes[pos] <= '9') {
            values[field] = values[field] * 10 + (bytes[pos] - '0');
            // stb keeps the number in an int: stop long before it would overflow.
            if (values[field] > 1000000) return std::string("PNM header: ") + names[field] + " is out of range";
            pos++;
        }
    }
    if (pos >= size) return "truncated PNM file (no pixel data)";
    pos++;  // the single whitespace character that ends the header
    const unsigned long long maxval = values[2];
    if (maxval == 0) return "PNM header: maxval 0";
    if (maxval > 255)
        return "16-bit PNM (maxval " + std::to_string(maxval) + ") is not supported: use 8-bit (maxval <= 255)";
    const unsigned long long need = values[0] * values[1] * channels;
    if (size - pos < need)
        return "truncated PNM file: " + std::to_string(size - pos) + " bytes of pixel data, the header promises " +
               std::to_string(need);
    return "";
}

// GIF: header, screen descriptor, colour table, then blocks up to the first image, whose
// descriptor, colour table and LZW data sub-blocks must all be present.
std::string check_gif(const uint8_t* bytes, size_t size) {
    Cursor in{bytes, size};
    in.skip(6);  // GIF87a / GIF89a
    in.skip(4);  // screen width, height
    const uint8_t flags = in.u8();
    in.skip(2);  // background, aspect
    if (flags & 0x80) in.skip(3u << ((flags & 7) + 1));
    auto skip_sub_blocks = [&in] {
        for (;;) {
            const uint8_t n = in.u8();
            if (in.short_read || n == 0) return;
            in.skip(n);
        }
    };
    while (!in.short_read) {
        const uint8_t tag = in.u8();
        if (in.short_read) break;
        if (tag == 0x21) {  // extension: label, then data sub-blocks
            in.u8();
            skip_sub_blocks();
        } else if (tag == 0x2C) {  // image descriptor
            in.skip(8);  // left, top, width, height
            const uint8_t image_flags = in.u8();
            if (image_flags & 0x80) in.skip(3u << ((image_flags & 7) + 1));
            in.u8();  // LZW minimum code size
            skip_sub_blocks();
            return in.short_read ? "truncated GIF file (the first image's data is cut off)" : "";
        } else if (tag == 0x3B) {
            return "GIF file holds no image";
        } else {
            return "corrupt GIF file (unknown block)";
        }
    }
    return "truncated GIF file";
}

// BMP without compression (BI_RGB, BI_BITFIELDS): the pixel rows must all be in the file.
std::string check_bmp(const uint8_t* bytes, size_t size) {
    Cursor in{bytes, size};
    in.skip(10);
    const uint32_t offset = in.le32();
    const uint32_t header_size = in.le32();
    long long width, height;
    uint32_t bpp, compression = 0;
    if (header_size == 12) {
        width = in.le16();
        height = in.le16();
        in.le16();
        bpp = in.le16();
    } else {
        width = static_cast<int32_t>(in.le32());
        height = static_cast<int32_t>(in.le32());
        in.le16();
        bpp = in.le16();
        compression = in.le32();
    }
    if (in.short_read) return "truncated BMP header";
    if (compression != 0 && compression != 3) return "";  // stb refuses RLE BMP itself
    if (width <= 0 || height == 0 || width > (1 << 20) || height > (1 << 20) || height < -(1 << 20) ||
        bpp == 0 || bpp > 32)
        return "";  // stb's own checks, and the size cap, refuse these
    if (height < 0) height = -height;
    const unsigned long long stride = ((static_cast<unsigned long long>(width) * bpp + 31) / 32) * 4;
    const unsigned long long need = static_cast<unsigned long long>(offset) + stride * height;
    if (need > size)
        return "truncated BMP file: " + std::to_string(size) + " bytes, the header promises " + std::to_string(need);
    return "";
}

// TGA: raw pixel data must be complete; run-length data must hold packets for every pixel.
std::string check_tga(const uint8_t* bytes, size_t size) {
    Cursor in{bytes, size};
    const uint8_t id_length = in.u8();
    const uint8_t map_type = in.u8();
    const uint8_t type = in.u8();
    in.le16();  // first colour map entry
    const uint32_t map_length = in.le16();
    const uint8_t map_bits = in.u8();
    in.skip(4);  // origin
    const uint32_t width = in.le16();
    const uint32_t height = in.le16();
    const uint8_t bits = in.u8();
    in.u8();
    if (in.short_read) return "truncated TGA header";
    in.skip(id_length);
    if (map_type == 1) in.skip(static_cast<size_t>(map_length) * ((map_bits + 7) / 8));
    if (in.short_read) return "truncated TGA file (colour map)";
    const size_t pixel_bytes = (bits + 7) / 8;
    const unsigned long long pixels = static_cast<unsigned long long>(width) * height;
    if (pixel_bytes == 0 || pixels == 0) return "";  // stb refuses these
    if (type == 1 || type == 2 || type == 3) {
        if (!in.has(pixels * pixel_bytes))
            return "truncated TGA file: the header promises " + std::to_string(pixels * pixel_bytes) +
                   " bytes of pixels, the file has " + std::to_string(size - in.pos);
        return "";
    }
    if (type == 9 || type == 10 || type == 11) {
        unsigned long long covered = 0;
        while (covered < pixels) {
            const uint8_t packet = in.u8();
            if (in.short_read) break;
            const unsigned count = (packet & 0x7F) + 1u;
            in.skip(packet & 0x80 ? pixel_bytes : count * pixel_bytes);
            if (in.short_read) break;
            covered += count;
        }
        if (covered < pixels) return "truncated TGA file (run-length data ends early)";
    }
    return "";
}

// PNG: an IDAT chunk of length 0 before any image data. The format allows it, but stb_image then
// copies zero bytes into its not yet allocated data buffer (memcpy to a null pointer: undefined
// behaviour, found by the image fuzzer), so it is refused. Everything else (lengths, CRCs, the
// zlib stream) stb checks itself; a walk that runs off the end just stops and leaves it to stb.
// Walks the chunks to IEND. stb_image grows its compressed-data buffer to what an IDAT chunk
// declares before it reads the data, so one lying length (1.7 GB in a 742-byte file, found by the
// image fuzzer) made it allocate 2 GB: every chunk must fit in what is left of the file. And stb
// copied an empty first IDAT into its not yet allocated buffer (memcpy to null, UBSan).
std::string check_png(const uint8_t* bytes, size_t size) {
    Cursor in{bytes, size};
    in.skip(8);  // the signature
    bool data_seen = false;
    while (in.has(8)) {
        const uint32_t length = in.be32();
        const uint32_t type = in.be32();
        if (type == 0x49444154u) {  // "IDAT"
            if (length == 0 && !data_seen) return "PNG: an empty IDAT chunk before the image data (not supported)";
            data_seen = true;
        }
        if (!in.has(static_cast<size_t>(length) + 4))
            return "PNG: a chunk of " + std::to_string(length) + " bytes runs past the end of the file (truncated or corrupt)";
        in.skip(static_cast<size_t>(length) + 4);  // data and CRC
        if (type == 0x49454E44u) return "";  // "IEND": what follows is not read
    }
    return "";
}

}  // namespace

std::string image_preflight(const uint8_t* bytes, size_t size) {
    if (size >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6')) return check_pnm(bytes, size);
    if (size >= 4 && bytes[0] == 'G' && bytes[1] == 'I' && bytes[2] == 'F' && bytes[3] == '8') return check_gif(bytes, size);
    if (size >= 2 && bytes[0] == 'B' && bytes[1] == 'M') return check_bmp(bytes, size);
    if (size >= 8 && bytes[0] == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G') return check_png(bytes, size);
    // TGA has no signature: stb tries it last, after every other format said no. The check
    // runs only when the caller knows stb took the file for a TGA.
    return "";
}

std::string image_preflight_tga(const uint8_t* bytes, size_t size) { return check_tga(bytes, size); }

}  // namespace sparsifiner
