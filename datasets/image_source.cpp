#include "datasets/image_source.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace sparsifiner {

namespace fs = std::filesystem;

bool image_file_name(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    static const char* known[] = {".jpg", ".jpeg", ".png", ".bmp", ".tga", ".gif", ".pnm", ".ppm", ".pgm"};
    return std::any_of(std::begin(known), std::end(known), [&](const char* k) { return ext == k; });
}

namespace {

// The image files directly inside dir, sorted by name.
std::vector<std::string> image_files_in(const fs::path& dir) {
    std::vector<std::string> found;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(dir, error))
        if (entry.is_regular_file(error) && image_file_name(entry.path().string()))
            found.push_back(entry.path().string());
    if (error) throw DataSourceError(dir.string() + ": cannot list (" + error.message() + ")");
    std::sort(found.begin(), found.end());
    return found;
}

std::vector<std::string> class_list_read(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw DataSourceError(path + ": cannot open the class list");
    std::vector<std::string> names;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string first;
        if (words >> first) names.push_back(first);
    }
    if (names.empty()) throw DataSourceError(path + ": the class list is empty");
    return names;
}

ImageSource folder_open(const std::string& data, const std::string& classes_file) {
    ImageSource source;
    source.location = data;
    std::vector<std::string> sub_folders;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(data, error))
        if (entry.is_directory(error)) sub_folders.push_back(entry.path().filename().string());
    if (error) throw DataSourceError(data + ": cannot list (" + error.message() + ")");
    std::sort(sub_folders.begin(), sub_folders.end());

    if (sub_folders.empty()) {  // a plain folder of images: no labels
        source.kind = "paths";
        for (const std::string& file : image_files_in(data)) source.items.push_back({file, -1, -1});
        if (source.items.empty()) throw DataSourceError(data + ": no image files and no class sub-folders");
        return source;
    }
    // Loose images beside class sub-folders: read as a class layout they would be dropped (and
    // one sub-folder is one class, so every prediction scores wrong). Ambiguous: refused.
    const std::vector<std::string> loose = image_files_in(data);
    if (!loose.empty())
        throw DataSourceError(data + ": holds " + std::to_string(loose.size()) + " image file(s) beside " +
                              std::to_string(sub_folders.size()) +
                              " sub-folder(s): ambiguous (a class layout needs every image in a class "
                              "sub-folder; for the loose images use --images " + data + ")");
    source.kind = "folder";
    source.labelled = true;
    source.class_names = classes_file.empty() ? sub_folders : class_list_read(classes_file);
    std::map<std::string, int> class_index;
    for (size_t i = 0; i < source.class_names.size(); i++) class_index[source.class_names[i]] = (int)i;
    for (const std::string& folder : sub_folders) {
        auto found = class_index.find(folder);
        if (found == class_index.end())
            throw DataSourceError(data + "/" + folder + ": sub-folder is not a class of " + classes_file);
        for (const std::string& file : image_files_in(fs::path(data) / folder))
            source.items.push_back({file, found->second, -1});
    }
    if (source.items.empty()) throw DataSourceError(data + ": the class sub-folders hold no image files");
    return source;
}

ImageSource list_open(const std::string& data) {
    std::ifstream in(data);
    if (!in) throw DataSourceError(data + ": cannot open the list file");
    ImageSource source;
    source.kind = "list";
    source.location = data;
    const fs::path base = fs::path(data).parent_path();
    std::string line;
    int line_number = 0, labelled = 0;
    int max_label = -1;
    while (std::getline(in, line)) {
        line_number++;
        std::istringstream words(line);
        std::string path, label_text, extra;
        if (!(words >> path) || path[0] == '#') continue;
        int label = -1;
        if (words >> label_text) {
            size_t used = 0;
            try {
                label = std::stoi(label_text, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != label_text.size() || label < 0 || (words >> extra))
                throw DataSourceError(data + ":" + std::to_string(line_number) +
                                      ": expected `path label` with a class index >= 0");
            // One name is made per class up to the largest index: bound it before allocating.
            if (label > kMaxClassIndex)
                throw DataSourceError(data + ":" + std::to_string(line_number) + ": class index " + label_text +
                                      " is above " + std::to_string(kMaxClassIndex));
            labelled++;
            max_label = std::max(max_label, label);
        }
        const fs::path file = fs::path(path).is_absolute() ? fs::path(path) : base / path;
        source.items.push_back({file.lexically_normal().string(), label, -1});
    }
    if (source.items.empty()) throw DataSourceError(data + ": the list file names no images");
    if (labelled != 0 && labelled != (int)source.items.size())
        throw DataSourceError(data + ": some lines have a label and some do not");
    source.labelled = labelled != 0;
    for (int i = 0; i <= max_label; i++) source.class_names.push_back("class_" + std::to_string(i));
    return source;
}

ImageSource fashion_mnist_open(const std::string& dir, const std::string& location, long limit) {
    std::string images_path, labels_path;
    if (!fashion_mnist_find(dir, "t10k", &images_path, &labels_path))
        throw DataSourceError(dir + ": no t10k-images-idx3-ubyte(.gz) (install Debian's dataset-fashion-mnist)");
    ImageSource source;
    source.kind = "fashion-mnist";
    source.location = location;
    source.labelled = true;
    source.class_names = fashion_mnist_class_names();
    int total = 0;
    source.grey = idx_images_read(images_path, limit, &total);
    const std::vector<uint8_t> labels = idx_labels_read(labels_path);
    if ((int)labels.size() != total)
        throw DataSourceError(labels_path + ": " + std::to_string(labels.size()) + " labels for " +
                              std::to_string(total) + " images");
    source.images_in_source = (size_t)total;
    for (int i = 0; i < source.grey.count; i++) {
        if (labels[i] >= source.class_names.size())
            throw DataSourceError(labels_path + ": label " + std::to_string(labels[i]) + " is not a class 0..9");
        source.items.push_back({images_path + "#" + std::to_string(i), labels[i], i});
    }
    return source;
}

ImageSource image_source_open_all(const std::string& data, const std::string& classes_file, long limit);

}  // namespace

ImageSource image_source_open(const std::string& data, const std::string& classes_file, long limit) {
    ImageSource source = image_source_open_all(data, classes_file, limit);
    if (source.images_in_source == 0) source.images_in_source = source.items.size();
    return source;
}

namespace {

ImageSource image_source_open_all(const std::string& data, const std::string& classes_file, long limit) {
    std::error_code error;
    if (data == "fashion-mnist") return fashion_mnist_open(kFashionMnistDebianDir, data, limit);
    if (!fs::exists(data, error)) throw DataSourceError(data + ": no such file or folder");
    if (fs::is_directory(data, error)) {
        std::string images_path, labels_path;
        if (fashion_mnist_find(data, "t10k", &images_path, &labels_path)) return fashion_mnist_open(data, data, limit);
        return folder_open(data, classes_file);
    }
    return list_open(data);
}

}  // namespace

ImageSource image_source_paths(const std::vector<std::string>& paths) {
    ImageSource source;
    source.kind = "paths";
    for (size_t i = 0; i < paths.size(); i++) source.location += (i ? " " : "") + paths[i];
    std::error_code error;
    for (const std::string& path : paths) {
        if (fs::is_directory(path, error)) {
            for (const std::string& file : image_files_in(path)) source.items.push_back({file, -1, -1});
        } else {
            source.items.push_back({path, -1, -1});  // a missing file is reported as a failed image
        }
    }
    if (source.items.empty()) throw DataSourceError("--images: no image files found");
    source.images_in_source = source.items.size();
    return source;
}

}  // namespace sparsifiner
