// Class names for printing predictions: the compiled-in ImageNet-1k list or a model's own names.
#include "datasets/labels.h"

#include <cstring>

namespace sparsifiner {

// One name per line, from the generated imagenet1k_classes_text.cpp (see datasets/CMakeLists.txt).
extern const char imagenet1k_classes_text[];

const std::vector<std::string>& imagenet1k_class_names() {
    // Split once; a function-local static is initialised thread-safely.
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        const char* p = imagenet1k_classes_text;
        while (*p) {
            const char* end = std::strchr(p, '\n');
            if (!end) end = p + std::strlen(p);
            if (end > p) out.emplace_back(p, end);
            p = *end ? end + 1 : end;
        }
        return out;
    }();
    return names;
}

std::vector<std::string> class_names_for(int num_classes, const std::vector<std::string>& model_names,
                                         const std::string& label_set) {
    if (num_classes < 0) num_classes = 0;
    // The model's own names win, but only if there is one per output; a mismatched list is
    // ignored rather than trusted (the loader reports it).
    if (!model_names.empty() && static_cast<int>(model_names.size()) == num_classes)
        return model_names;
    const std::vector<std::string>& imagenet = imagenet1k_class_names();
    if ((label_set == "imagenet1k" || num_classes == 1000) &&
        num_classes == static_cast<int>(imagenet.size()))
        return imagenet;
    std::vector<std::string> generic;
    generic.reserve(num_classes);
    for (int i = 0; i < num_classes; i++) generic.push_back("class_" + std::to_string(i));
    return generic;
}

}  // namespace sparsifiner
