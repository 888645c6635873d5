#include "cli/name_truth.h"

#include <cctype>

namespace sparsifiner {

std::string class_name_slug(const std::string& name) {
    std::string slug;
    bool pending_dash = false;
    for (unsigned char c : name) {
        if (std::isalnum(c)) {
            if (pending_dash && !slug.empty()) slug += '-';
            pending_dash = false;
            slug += (char)std::tolower(c);
        } else {
            pending_dash = true;
        }
    }
    return slug;
}

int class_from_file_name(const std::string& path, const std::vector<std::string>& class_names) {
    const size_t slash = path.find_last_of('/');
    std::string stem = path.substr(slash == std::string::npos ? 0 : slash + 1);
    const size_t dot = stem.find_last_of('.');
    if (dot != std::string::npos) stem.resize(dot);
    const size_t underscore = stem.find('_');
    if (underscore == std::string::npos) return -1;
    const std::string wanted = class_name_slug(stem.substr(underscore + 1));
    if (wanted.empty()) return -1;
    for (size_t c = 0; c < class_names.size(); c++)
        if (class_name_slug(class_names[c]) == wanted) return (int)c;
    return -1;
}

}  // namespace sparsifiner
