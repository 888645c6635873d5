// The safetensors container: every malformed header is refused with one line naming the file and
// the tensor (or "header"), and the 16-bit formats widen exactly.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/safetensors_builder.h"
#include "weights/safetensors.h"

using sparsifiner::DType;
using sparsifiner::SafetensorsFile;
using sparsifiner::TensorView;
using sparsifiner::WeightFileError;
using sparsifiner_test::SafetensorsBuilder;

namespace {

const char* const label = "model.safetensors";

std::string parse_error(const std::vector<uint8_t>& bytes) {
    try {
        SafetensorsFile::parse(bytes.data(), bytes.size(), label);
    } catch (const WeightFileError& error) {
        return error.what();
    }
    return "(no error)";
}

// One tensor "t" with the given entry, over `data_size` zero bytes.
std::vector<uint8_t> one_entry(const std::string& entry_json, size_t data_size) {
    return SafetensorsBuilder::assemble("{\"t\":" + entry_json + "}", std::vector<uint8_t>(data_size, 0));
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::vector<float> widen(DType dtype, const std::vector<uint16_t>& bits) {
    SafetensorsBuilder builder;
    builder.add_u16("x", dtype == DType::F16 ? "F16" : "BF16", {static_cast<int64_t>(bits.size())}, bits);
    std::vector<uint8_t> bytes = builder.bytes();
    SafetensorsFile file = SafetensorsFile::parse(bytes.data(), bytes.size(), label);
    std::vector<float> out(bits.size());
    sparsifiner::tensor_to_f32(*file.find("x"), out.data());
    return out;
}

}  // namespace

TEST_CASE("safetensors: a valid image parses, sorted by name, with metadata and data in place") {
    SafetensorsBuilder builder;
    builder.add_f32("zeta", {2}, {1.5f, -2.0f});
    builder.add_f32("alpha", {1, 3}, {1.0f, 2.0f, 3.0f});
    builder.add_f32("empty", {0, 4}, {});
    builder.set_metadata("format", "sparsifiner-deit");
    std::vector<uint8_t> bytes = builder.bytes();
    SafetensorsFile file = SafetensorsFile::parse(bytes.data(), bytes.size(), label);

    REQUIRE(file.tensors().size() == 3);
    CHECK(file.tensors()[0].name == "alpha");
    CHECK(file.tensors()[1].name == "empty");
    CHECK(file.tensors()[2].name == "zeta");
    CHECK(file.metadata().at("format") == "sparsifiner-deit");
    CHECK(file.find("missing") == nullptr);
    const TensorView* alpha = file.find("alpha");
    REQUIRE(alpha != nullptr);
    CHECK(alpha->numel() == 3);
    CHECK(alpha->nbytes == 12);
    CHECK(file.find("empty")->numel() == 0);
    std::vector<float> values(3);
    sparsifiner::tensor_to_f32(*alpha, values.data());
    CHECK(values == std::vector<float>{1.0f, 2.0f, 3.0f});
    CHECK(file.unindexed_bytes() == 0);
}

TEST_CASE("safetensors: a gap in the data area is counted, not refused") {
    std::vector<uint8_t> bytes = one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})", 12);
    SafetensorsFile file = SafetensorsFile::parse(bytes.data(), bytes.size(), label);
    CHECK(file.unindexed_bytes() == 8);
}

TEST_CASE("safetensors: truncated files") {
    std::vector<uint8_t> tiny = {1, 2, 3};
    CHECK(parse_error(tiny) == "model.safetensors: header: file is 3 bytes, too short for the 8-byte header length");

    std::vector<uint8_t> bytes = one_entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 8);
    std::vector<uint8_t> header_cut(bytes.begin(), bytes.begin() + 20);
    std::string error = parse_error(header_cut);
    CHECK(contains(error, "model.safetensors: header: header length "));
    CHECK(contains(error, "exceeds the 12 bytes after it"));

    // Header intact but tensor bytes cut: the range now ends past the data area.
    std::vector<uint8_t> data_cut(bytes.begin(), bytes.end() - 3);
    CHECK(parse_error(data_cut) == "model.safetensors: t: byte range [0, 8) ends past the data area (5 bytes)");
}

TEST_CASE("safetensors: header length beyond the file, and absurdly large") {
    std::vector<uint8_t> bytes = one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", 4);
    bytes[0] = static_cast<uint8_t>(bytes.size());  // one more than the bytes after the prefix
    CHECK(contains(parse_error(bytes), "model.safetensors: header: header length"));

    std::vector<uint8_t> huge = bytes;
    for (int i = 0; i < 8; i++) huge[i] = 0;
    huge[7] = 0x80;  // 2^63
    CHECK(parse_error(huge) == "model.safetensors: header: header length 9223372036854775808 exceeds the " +
                                   std::to_string(bytes.size() - 8) + " bytes after it (file truncated?)");
}

TEST_CASE("safetensors: a file of another kind is named as not a safetensors file") {
    const std::string png_magic = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    std::vector<uint8_t> png(png_magic.begin(), png_magic.end());
    CHECK(parse_error(png) == "model.safetensors: header: not a safetensors file (it is a PNG image)");
    const std::string zip_magic = "PK\x03\x04 and the rest of a checkpoint";
    CHECK(contains(parse_error(std::vector<uint8_t>(zip_magic.begin(), zip_magic.end())),
                   "not a safetensors file (it is a zip archive, e.g. a PyTorch checkpoint"));
    // Plain text: its first 8 bytes read as an absurd length and no '{' follows them.
    const std::string text = "hello, world: this is not a weight file";
    CHECK(parse_error(std::vector<uint8_t>(text.begin(), text.end())) ==
          "model.safetensors: header: not a safetensors file (its first 8 bytes are no plausible header length "
          "and no JSON header follows)");
}

TEST_CASE("safetensors: header that is not JSON, or not an object") {
    std::string error = parse_error(SafetensorsBuilder::assemble("{\"t\": ", {}));
    CHECK(contains(error, "model.safetensors: header: not valid JSON"));
    CHECK(error.find('\n') == std::string::npos);

    CHECK(parse_error(SafetensorsBuilder::assemble("[1, 2]", {})) ==
          "model.safetensors: header: top level is not a JSON object");
    CHECK(contains(parse_error(SafetensorsBuilder::assemble("", {})), "header: not valid JSON"));
    // Nesting far beyond what a header needs is refused before it costs anything.
    CHECK(contains(parse_error(SafetensorsBuilder::assemble(std::string(5000, '[') + std::string(5000, ']'), {})),
                   "header: JSON nested deeper"));
}

// A header of many tiny entries: parsed in one linear pass (nlohmann's callback parser made this
// quadratic: 100k entries took 72 s), and capped at 20000 entries.
std::string many_entries(int count) {
    std::string text = "{";
    for (int i = 0; i < count; i++) {
        if (i) text += ",";
        text += "\"t" + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
    }
    return text + "}";
}

TEST_CASE("safetensors: the number of header entries is capped") {
    std::vector<uint8_t> fine = SafetensorsBuilder::assemble(many_entries(20000), {});
    SafetensorsFile file = SafetensorsFile::parse(fine.data(), fine.size(), "model.safetensors");
    CHECK(file.tensors().size() == 20000);
    CHECK(parse_error(SafetensorsBuilder::assemble(many_entries(20001), {})) ==
          "model.safetensors: header: more than 20000 entries");
}

TEST_CASE("safetensors: duplicate keys are refused, not silently resolved") {
    std::string entry = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
    std::vector<uint8_t> bytes =
        SafetensorsBuilder::assemble("{\"t\":" + entry + ",\"t\":" + entry + "}", std::vector<uint8_t>(4, 0));
    CHECK(contains(parse_error(bytes), "model.safetensors: header: duplicate key \"t\""));
    std::vector<uint8_t> inner = one_entry(R"({"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]})", 4);
    CHECK(contains(parse_error(inner), "duplicate key \"dtype\""));
}

TEST_CASE("safetensors: dtype") {
    CHECK(parse_error(one_entry(R"({"dtype":"F64","shape":[1],"data_offsets":[0,8]})", 8)) ==
          "model.safetensors: t: unsupported dtype F64 (F32, F16 and BF16 are supported)");
    CHECK(contains(parse_error(one_entry(R"({"dtype":"I64","shape":[1],"data_offsets":[0,8]})", 8)),
                   "t: unsupported dtype I64"));
    CHECK(parse_error(one_entry(R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})", 4)) ==
          "model.safetensors: t: dtype is not a string");
}

TEST_CASE("safetensors: shape") {
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]})", 4)) ==
          "model.safetensors: t: shape[1] is negative");
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,4]})", 4)) ==
          "model.safetensors: t: shape[0] is not an integer or too large");
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,4]})", 4)) ==
          "model.safetensors: t: shape[0] is not a number");
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":2,"data_offsets":[0,4]})", 4)) ==
          "model.safetensors: t: shape is not an array");
    // 2^32 * 2^32 elements: the product overflows 64 bits.
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})", 4)) ==
          "model.safetensors: t: shape [4294967296, 4294967296] has too many elements");
    // 2^62 elements fit in int64, but their 2^64 bytes do not: still refused.
    CHECK(contains(parse_error(one_entry(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]})", 4)),
                   "t: shape [4611686018427387904] of F32 needs"));
    CHECK(contains(parse_error(one_entry(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]})", 4)),
                   "t: shape has rank 9"));
}

TEST_CASE("safetensors: data_offsets") {
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[200],"data_offsets":[100,900]})", 800)) ==
          "model.safetensors: t: byte range [100, 900) ends past the data area (800 bytes)");
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})", 8)) ==
          "model.safetensors: t: byte range [8, 4) begins after it ends");
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 8)) ==
          "model.safetensors: t: data_offsets is not an array [begin, end]");
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 8)) ==
          "model.safetensors: t: data_offsets begin is negative");
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]})", 8)) ==
          "model.safetensors: t: data_offsets end is not an integer or too large");
    // Size mismatch: 3 F32 need 12 bytes.
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})", 8)) ==
          "model.safetensors: t: shape [3] of F32 needs 3 x 4 bytes, byte range [0, 8) holds 8");
    CHECK(contains(parse_error(one_entry(R"({"dtype":"F16","shape":[3],"data_offsets":[0,12]})", 12)),
                   "t: shape [3] of F16 needs 3 x 2 bytes"));
}

TEST_CASE("safetensors: entry fields") {
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[1]})", 4)) ==
          "model.safetensors: t: missing field \"data_offsets\"");
    CHECK(parse_error(one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1})", 4)) ==
          "model.safetensors: t: unexpected field \"extra\"");
    CHECK(parse_error(one_entry("[]", 4)) == "model.safetensors: t: entry is not an object");
}

TEST_CASE("safetensors: overlapping ranges are refused, zero-size tensors are not") {
    std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
    CHECK(parse_error(SafetensorsBuilder::assemble(header, std::vector<uint8_t>(12, 0))) ==
          "model.safetensors: b: byte range [4, 12) overlaps a [0, 8)");
    // The same range twice.
    std::string twice = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    CHECK(parse_error(SafetensorsBuilder::assemble(twice, std::vector<uint8_t>(4, 0))) ==
          "model.safetensors: b: byte range [0, 4) overlaps a [0, 4)");
    // A long tensor covering a later short one, listed out of order.
    std::string nested = R"({"z":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                         R"("a":{"dtype":"F32","shape":[1],"data_offsets":[20,24]},)"
                         R"("m":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
    CHECK(parse_error(SafetensorsBuilder::assemble(nested, std::vector<uint8_t>(24, 0))) ==
          "model.safetensors: m: byte range [8, 12) overlaps z [0, 16)");
    std::string empties = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                          R"("f":{"dtype":"BF16","shape":[3,0],"data_offsets":[4,4]}})";
    CHECK(parse_error(SafetensorsBuilder::assemble(empties, std::vector<uint8_t>(8, 0))) == "(no error)");
}

TEST_CASE("safetensors: __metadata__ must map strings to strings") {
    std::string tensor = R"("t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
    CHECK(parse_error(SafetensorsBuilder::assemble(R"({"__metadata__":{"depth":12},)" + tensor + "}",
                                                   std::vector<uint8_t>(4, 0))) ==
          "model.safetensors: __metadata__.depth: value is not a string");
    CHECK(parse_error(SafetensorsBuilder::assemble(R"({"__metadata__":["x"],)" + tensor + "}",
                                                   std::vector<uint8_t>(4, 0))) ==
          "model.safetensors: __metadata__: is not a JSON object");
}

TEST_CASE("safetensors: names from the file cannot break the one-line message") {
    std::string header = "{\"a\\nb\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
    std::string error = parse_error(SafetensorsBuilder::assemble(header, std::vector<uint8_t>(8, 0)));
    CHECK(error == "model.safetensors: a\\x0ab: unsupported dtype F64 (F32, F16 and BF16 are supported)");
}

TEST_CASE("safetensors: F32 data at an odd address reads correctly") {
    SafetensorsBuilder builder;
    builder.add_f32("t", {3}, {0.25f, -7.0f, 1e-30f});
    std::string header = builder.header.dump() + " ";  // spaces after the JSON are allowed padding
    while ((8 + header.size()) % 4 != 1) header += " ";
    std::vector<uint8_t> bytes = SafetensorsBuilder::assemble(header, builder.data);
    SafetensorsFile file = SafetensorsFile::parse(bytes.data(), bytes.size(), label);
    CHECK(reinterpret_cast<uintptr_t>(file.find("t")->data) % 4 != 0);
    std::vector<float> out(3);
    sparsifiner::tensor_to_f32(*file.find("t"), out.data());
    CHECK(out == std::vector<float>{0.25f, -7.0f, 1e-30f});
}

TEST_CASE("safetensors: F16 widening, special values") {
    std::vector<float> out = widen(DType::F16, {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555, 0x8000,
                                                0x7c00, 0xfc00, 0x7e00});
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == -2.0f);
    CHECK(out[2] == 65504.0f);                        // largest finite half
    CHECK(out[3] == std::ldexp(1.0f, -24));           // smallest subnormal
    CHECK(out[4] == std::ldexp(1023.0f, -24));        // largest subnormal
    CHECK(out[5] == std::ldexp(1.0f, -14));           // smallest normal
    CHECK(out[6] == 0.333251953125f);                 // 0x3555: 1.0101010101b x 2^-2
    CHECK(out[7] == 0.0f);
    CHECK(std::signbit(out[7]));
    CHECK(out[8] == std::numeric_limits<float>::infinity());
    CHECK(out[9] == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(out[10]));
}

TEST_CASE("safetensors: F16 widening, all 65536 values against the binary16 definition") {
    std::vector<uint16_t> all(65536);
    for (int i = 0; i < 65536; i++) all[i] = static_cast<uint16_t>(i);
    std::vector<float> out = widen(DType::F16, all);
    int wrong = 0;
    for (int i = 0; i < 65536; i++) {
        int sign = i >> 15, exponent = (i >> 10) & 31, mantissa = i & 1023;
        if (exponent == 31) {
            bool ok = mantissa == 0 ? std::isinf(out[i]) : std::isnan(out[i]);
            if (!ok || std::signbit(out[i]) != (sign == 1)) wrong++;
            continue;
        }
        // value = mantissa x 2^-24 for subnormals, (1024 + mantissa) x 2^(exponent - 25) otherwise.
        double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
        double expected = sign ? -magnitude : magnitude;
        if (static_cast<double>(out[i]) != expected || std::signbit(out[i]) != (sign == 1)) wrong++;
    }
    CHECK(wrong == 0);
}

TEST_CASE("safetensors: BF16 widening") {
    std::vector<float> out = widen(DType::BF16, {0x3f80, 0xc0a0, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x4049});
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == -5.0f);
    CHECK(out[2] == std::ldexp(1.0f, -133));  // the smallest BF16 subnormal, an f32 subnormal too
    CHECK(out[3] == std::numeric_limits<float>::infinity());
    CHECK(out[4] == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(out[5]));
    CHECK(out[6] == 3.140625f);  // 0x4049: 1.1001001b x 2^1
}

TEST_CASE("safetensors: open() maps a file, and refuses what is not one") {
    char dir_template[] = "/tmp/sparsifiner_st_XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    std::string dir = dir_template;
    std::string path = dir + "/tiny.safetensors";
    SafetensorsBuilder builder;
    builder.add_f32("w", {2, 2}, {1.0f, 2.0f, 3.0f, 4.0f});
    std::vector<uint8_t> bytes = builder.bytes();
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    {
        SafetensorsFile file = SafetensorsFile::open(path);
        SafetensorsFile moved = std::move(file);  // the mapping moves with it
        std::vector<float> out(4);
        sparsifiner::tensor_to_f32(*moved.find("w"), out.data());
        CHECK(out == std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
        CHECK(moved.label() == path);
        // Truncating the file while it is open: with a file mapping, reading the tensor would
        // now die of SIGBUS; the file was read, so the bytes are still there.
        REQUIRE(truncate(path.c_str(), 0) == 0);
        std::vector<float> again(4);
        sparsifiner::tensor_to_f32(*moved.find("w"), again.data());
        CHECK(again == std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
    }
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }

    auto open_error = [](const std::string& p) -> std::string {
        try {
            SafetensorsFile::open(p);
        } catch (const WeightFileError& error) {
            return error.what();
        }
        return "(no error)";
    };
    CHECK(open_error(dir + "/absent.safetensors") == dir + "/absent.safetensors: cannot open: No such file or directory");
    CHECK(open_error(dir) == dir + ": is a directory, not a safetensors file");
    std::string empty = dir + "/empty.safetensors";
    { std::ofstream out(empty, std::ios::binary); }
    CHECK(open_error(empty) == empty + ": header: file is 0 bytes, too short for the 8-byte header length");
    std::string fifo = dir + "/fifo";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(open_error(fifo) == fifo + ": is not a regular file");  // and does not wait for a writer

    std::remove(path.c_str());
    std::remove(empty.c_str());
    std::remove(fifo.c_str());
    rmdir(dir.c_str());
}
