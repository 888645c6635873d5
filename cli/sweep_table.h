#pragma once
// The table of a sweep document, one row per setting (dense first): what `sweep` and `merge`
// print for --format table, csv and md.
#include <nlohmann/json.hpp>

#include "cli/report_table.h"

namespace sparsifiner {

Table sweep_table(const nlohmann::json& document);

}  // namespace sparsifiner
