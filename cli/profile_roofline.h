#pragma once
// profile's efficiency report (issue 15): per op, the work it did, the rate it achieved and the
// fraction of its roofline (core/model/roofline.h), in the JSON and as a table summed over blocks.
#include <nlohmann/json.hpp>

#include "cli/report_table.h"
#include "core/model/op_work.h"
#include "core/model/roofline.h"

namespace sparsifiner {

// The machine's roofline as measured in this run: `roofline` of the JSON document.
nlohmann::json roofline_json(const Roofline& roofline);

// `efficiency` of one op that took `median_seconds` per timed pass. Rates are null when the op
// took no time or has no such work.
nlohmann::json op_efficiency_json(const Roofline& roofline, const OpWork& work, double median_seconds);
// The same for an op made of parts (the learned predictor, dense attention on oneDNN): its work
// is theirs summed and its roofline time the sum of theirs (bound `parts`).
nlohmann::json parent_efficiency_json(const OpWork& work, double median_seconds, const nlohmann::json& parts);

// Every op (and part, indented) summed over the blocks of `layers` (profile's JSON), with patch
// embedding and head: time, work, achieved rate and the fraction of roofline.
Table efficiency_table(const nlohmann::json& document);

}  // namespace sparsifiner
