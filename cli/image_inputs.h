#pragma once
// Turning what the user typed (files and folders) into a list of images, and images into the
// model's input tensor.
#include <string>
#include <vector>

namespace sparsifiner {

// Files stay as given; a folder contributes its regular files with an image extension, sorted
// by name (not recursive). A path that does not exist is kept, so that it is reported as an
// unreadable input in its place.
std::vector<std::string> image_paths_expand(const std::vector<std::string>& arguments);

// Decodes and preprocesses paths[i] into out + i * 3 * size * size (in parallel). Returns an
// empty string for an image that worked and the one-line error for one that did not.
std::vector<std::string> images_prepare(const std::vector<std::string>& paths, int size, float crop_pct,
                                        float* out);

}  // namespace sparsifiner
