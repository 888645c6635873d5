#pragma once
// The model a command uses when -m is not given (README, "Using it").
#include <string>

namespace sparsifiner {

// In this order: $SPARSIFINER_MODEL (authoritative when set: a missing file is an error, not a
// fallback), <dir of the executable>/../share/sparsifiner/models/fashion_sparsifiner.safetensors
// (the installed layout), then the source tree's weights/models/fashion_sparsifiner.safetensors
// (compiled in). Throws CommandError(kExitModelError) listing the paths tried.
std::string default_model_path();

}  // namespace sparsifiner
