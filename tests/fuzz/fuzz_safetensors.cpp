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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
    return 0;
}
