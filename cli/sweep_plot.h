#pragma once
// The paper's trade-off figure from a sweep document: top-1 accuracy (or agreement with dense,
// without labels) against MHSA MACs per image, one line per mask source, points labelled by keep
// rate, the dense model as a reference point. SVG, so any browser shows it.
#include <string>

#include <nlohmann/json.hpp>

namespace sparsifiner {

// Throws std::runtime_error "<path>: cannot write: <reason>".
void sweep_plot_svg(const nlohmann::json& sweep_document, const std::string& path);

}  // namespace sparsifiner
