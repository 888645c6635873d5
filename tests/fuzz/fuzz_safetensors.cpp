// libFuzzer target for the weight-file front door: SafetensorsFile::parse on arbitrary bytes and,
// when a header passes, deit_weights_load on it. A WeightFileError is the expected answer to
// garbage; anything else (a crash, a sanitizer report, another exception, a multi-line message)
// is a finding.
#include <cstdint>
#include <cstring>
#include <vector>

#include "weights/deit_weights.h"
#include "weights/safetensors.h"

namespace {

void check_one_line(const sparsifiner::WeightFileError& error) {
    if (std::strchr(error.what(), '\n') != nullptr) __builtin_trap();
}

void parse_and_load(const uint8_t* data, size_t size) {
    using namespace sparsifiner;
    try {
        SafetensorsFile file = SafetensorsFile::parse(data, size, "fuzz.safetensors");
        // Read every byte of every view: ASan reports any view that reaches past the input.
        std::vector<float> values;
        for (const TensorView& tensor : file.tensors()) {
            values.resize(tensor.nbytes / dtype_size(tensor.dtype));
            tensor_to_f32(tensor, values.data());
        }
        try {
            DeitWeights weights = deit_weights_load(file);
            // A load that succeeds must agree with its own geometry.
            if (weights.blocks.size() != static_cast<size_t>(weights.config.depth)) __builtin_trap();
            if (weights.pos_embed.size() !=
                static_cast<size_t>(weights.config.tokens()) * static_cast<size_t>(weights.config.embed_dim)) {
                __builtin_trap();
            }
        } catch (const WeightFileError& error) {
            check_one_line(error);
        }
    } catch (const WeightFileError& error) {
        check_one_line(error);
    }
}

}  // namespace

// An input that starts with '{' is also read as "header JSON, NUL, data bytes" and given a correct
// length prefix: mutations of the JSON then reach the entry checks instead of all failing at the
// length check. (JSON text cannot contain a raw NUL, so the split is unambiguous.)
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    parse_and_load(data, size);
    if (size > 0 && data[0] == '{') {
        const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
        size_t header_size = nul != nullptr ? static_cast<size_t>(nul - data) : size;
        size_t data_start = nul != nullptr ? header_size + 1 : size;
        std::vector<uint8_t> framed(8);
        for (int i = 0; i < 8; i++) framed[i] = static_cast<uint8_t>(static_cast<uint64_t>(header_size) >> (8 * i));
        framed.insert(framed.end(), data, data + header_size);
        framed.insert(framed.end(), data + data_start, data + size);
        parse_and_load(framed.data(), framed.size());
    }
    return 0;
}
