#pragma once
// Class names: the built-in ImageNet-1k list, or names a model carries in its metadata.
#include <string>
#include <vector>

namespace sparsifiner {

// The 1000 ImageNet-1k class names in the standard index order (compiled in).
const std::vector<std::string>& imagenet1k_class_names();

// The names to print for a model with num_classes outputs: the model's own names when given,
// the built-in ImageNet-1k list for label_set "imagenet1k" or when num_classes is 1000,
// otherwise "class_<i>".
std::vector<std::string> class_names_for(int num_classes, const std::vector<std::string>& model_names,
                                         const std::string& label_set);

}  // namespace sparsifiner
