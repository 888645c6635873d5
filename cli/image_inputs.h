#pragma once
// Turning what the user typed (files and folders) into a list of images, and images into the
// model's input tensor.
#include <string>
#include <vector>

#include "image/image.h"
#include "weights/deit_weights.h"

namespace sparsifiner {

// Files stay as given; a folder contributes its regular files with an image extension, sorted
// by name (not recursive). A path that does not exist is kept, so that it is reported as an
// unreadable input in its place.
std::vector<std::string> image_paths_expand(const std::vector<std::string>& arguments);

// The model's preprocessing (channels, mean, std, crop_pct from its metadata); crop_pct_flag > 0
// (--crop-pct) replaces the model's crop.
ImagePreprocess preprocess_for(const DeitConfig& config, float crop_pct_flag);

// Decodes and preprocesses paths[i] into out + i * channels * size * size (in parallel). Returns
// an empty string for an image that worked and the one-line error for one that did not.
std::vector<std::string> images_prepare(const std::vector<std::string>& paths, int size, const ImagePreprocess& p,
                                        float* out);

}  // namespace sparsifiner
