#include "cli/image_inputs.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "datasets/image_batch.h"
#include "image/image.h"

namespace sparsifiner {

namespace fs = std::filesystem;

static bool has_image_extension(const fs::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    static const char* known[] = {".jpg", ".jpeg", ".png", ".bmp", ".tga", ".gif", ".pnm", ".ppm", ".pgm"};
    return std::any_of(std::begin(known), std::end(known), [&](const char* k) { return ext == k; });
}

std::vector<std::string> image_paths_expand(const std::vector<std::string>& arguments) {
    std::vector<std::string> paths;
    for (const std::string& argument : arguments) {
        std::error_code error;
        if (!fs::is_directory(argument, error)) {
            paths.push_back(argument);
            continue;
        }
        std::vector<std::string> found;
        for (const auto& entry : fs::directory_iterator(argument, error))
            if (entry.is_regular_file(error) && has_image_extension(entry.path()))
                found.push_back(entry.path().string());
        std::sort(found.begin(), found.end());
        paths.insert(paths.end(), found.begin(), found.end());
    }
    return paths;
}

ImagePreprocess preprocess_for(const DeitConfig& config, float crop_pct_flag) {
    ImagePreprocess p;
    p.channels = config.in_chans;
    p.mean = config.mean;
    p.std_dev = config.std_dev;
    p.crop_pct = crop_pct_flag > 0 ? crop_pct_flag : config.crop_pct;
    return p;
}

std::vector<std::string> images_prepare(const std::vector<std::string>& paths, int size, const ImagePreprocess& p,
                                        float* out) {
    ImageSource source;
    std::vector<int> all(paths.size());
    for (size_t i = 0; i < paths.size(); i++) {
        source.items.push_back({paths[i], -1, -1});
        all[i] = (int)i;
    }
    return image_items_prepare(source, all, 0, paths.size(), size, p, out);
}

}  // namespace sparsifiner
