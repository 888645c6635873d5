#include "cli/default_model.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "cli/common.h"

#ifndef SPARSIFINER_SOURCE_MODEL_DIR
#define SPARSIFINER_SOURCE_MODEL_DIR "weights/models"
#endif

namespace sparsifiner {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDefaultModelName = "fashion_sparsifiner.safetensors";

bool is_file(const std::string& path) {
    std::error_code error;
    return fs::is_regular_file(path, error);
}

// The installed layout: bin/sparsifiner next to share/sparsifiner/models/. /proc/self/exe is the
// binary itself (symlinks resolved), wherever it was started from.
std::string installed_candidate() {
    std::error_code error;
    const fs::path exe = fs::read_symlink("/proc/self/exe", error);
    if (error) return "";
    return (exe.parent_path() / ".." / "share" / "sparsifiner" / "models" / kDefaultModelName).lexically_normal().string();
}

}  // namespace

std::string default_model_path() {
    const char* from_env = std::getenv("SPARSIFINER_MODEL");
    if (from_env != nullptr && from_env[0] != '\0') {
        if (!is_file(from_env))
            throw CommandError(kExitModelError, std::string("SPARSIFINER_MODEL=") + from_env +
                                                    ": no such file (pass -m MODEL, or unset it for the bundled model)");
        return from_env;
    }
    std::vector<std::string> tried;
    const std::string installed = installed_candidate();
    if (!installed.empty()) tried.push_back(installed);
    tried.push_back(std::string(SPARSIFINER_SOURCE_MODEL_DIR) + "/" + kDefaultModelName);
    for (const std::string& path : tried)
        if (is_file(path)) return path;
    std::string list;
    for (const std::string& path : tried) list += (list.empty() ? "" : ", ") + path;
    throw CommandError(kExitModelError, "no -m MODEL given and no bundled model found (tried $SPARSIFINER_MODEL, " +
                                            list + "): pass -m MODEL");
}

}  // namespace sparsifiner
