#pragma once
// Fashion-MNIST in the IDX format that Debian's dataset-fashion-mnist package installs under
// /usr/share/datasets/fashion-mnist ({train,t10k}-{images-idx3,labels-idx1}-ubyte.gz): 28x28
// 8-bit grey images (0 = background) and one class byte per image.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sparsifiner {

struct DataSourceError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

constexpr const char* kFashionMnistDebianDir = "/usr/share/datasets/fashion-mnist";

struct GreyImages {
    int count = 0, rows = 0, cols = 0;
    std::vector<uint8_t> pixels;  // count * rows * cols, row-major
};

// A whole file, gunzipped when it starts with the gzip magic. Throws DataSourceError.
std::vector<uint8_t> file_read_maybe_gzip(const std::string& path);

// IDX type 0x08 (unsigned byte) with 3 dimensions / 1 dimension. Throws DataSourceError naming
// the file and what is wrong (magic, sizes, truncation).
// limit > 0 keeps only the first `limit` images (total, when given, receives the file's count).
GreyImages idx_images_read(const std::string& path, long limit = 0, int* total = nullptr);
std::vector<uint8_t> idx_labels_read(const std::string& path);

// The images and labels files of `split` ("t10k" or "train") in dir, with or without .gz;
// false when the images file is not there.
bool fashion_mnist_find(const std::string& dir, const std::string& split, std::string* images_path,
                        std::string* labels_path);

// The ten class names in label order.
const std::vector<std::string>& fashion_mnist_class_names();

}  // namespace sparsifiner
