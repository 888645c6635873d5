#pragma once
// Where a sweep's images come from (SPEC 4, issue 5): an image folder with one sub-folder per
// class (the ImageNet val layout), a list file of `path label` lines, plain image paths
// (unlabelled), or Fashion-MNIST's IDX files (images held in memory, 28x28 grey).
// Only paths and labels are gathered here; decoding happens later, in parallel, in the CLI.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/fashion_mnist.h"

namespace sparsifiner {

struct ImageItem {
    std::string name;      // the file path, or "<idx file>#<i>" for an in-memory image
    int label = -1;        // class index, -1 = unknown
    int memory_index = -1; // index into ImageSource::grey, -1 = decode the file `name`
};

struct ImageSource {
    std::string kind;      // "folder", "list", "paths", "fashion-mnist"
    std::string location;  // what the user gave
    bool labelled = false;
    std::vector<std::string> class_names;  // labelled sources: class index -> name
    std::vector<ImageItem> items;          // in a fixed, sorted order (sharding relies on it)
    size_t images_in_source = 0;           // all the source holds; items may stop at the limit
    GreyImages grey;                       // Fashion-MNIST pixels
};

// --data PATH: a folder with class sub-folders (classes = sorted sub-folder names, or the order
// of classes_file, one folder name as first word per line), a folder of images without
// sub-folders (unlabelled), a folder holding Fashion-MNIST IDX files (its t10k split), the word
// "fashion-mnist" (Debian's copy), or a list file of `path label` lines (label = class index;
// relative paths are relative to the list file; '#' lines and blank lines are skipped).
// Throws DataSourceError with one line naming the path and the problem (missing, empty, ...).
// limit > 0: items stop after the first `limit` images of an IDX file (and only those pixels are
// kept), so --limit 20 on a file of millions of tiny images costs 20 images, not millions.
// Class indices in a list file are at most kMaxClassIndex.
ImageSource image_source_open(const std::string& data, const std::string& classes_file, long limit = 0);
constexpr int kMaxClassIndex = 99999;

// --images a.jpg b.jpg: unlabelled; folders contribute their image files.
ImageSource image_source_paths(const std::vector<std::string>& paths);

// True for the file extensions the decoder handles (.jpg, .png, ...).
bool image_file_name(const std::string& path);

}  // namespace sparsifiner
