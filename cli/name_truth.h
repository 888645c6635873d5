#pragma once
// The true class of an image named after it, as datasets/samples names its files
// (`0000_ankle-boot.png`): what classify --truth-from-name shows beside the prediction.
#include <string>
#include <vector>

namespace sparsifiner {

// "T-shirt/top" -> "t-shirt-top": lower case, every run of other characters one '-'.
std::string class_name_slug(const std::string& name);

// The index of the class whose slug equals the slug of the file stem after its first '_'
// ("dir/0019_t-shirt-top.png" -> "t-shirt-top"), or -1 when there is none.
int class_from_file_name(const std::string& path, const std::vector<std::string>& class_names);

}  // namespace sparsifiner
