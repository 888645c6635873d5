#pragma once
// profile's efficiency report (issue 15): per op, the work it did, the rate it achieved and the
// fraction of its roofline (core/model/roofline.h), in the JSON and as a table summed over blocks.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/report_table.h"
#include "core/model/op_work.h"
#include "core/model/roofline.h"

namespace sparsifiner {

// The machine's roofline as measured in this run: `roofline` of the JSON document.
nlohmann::json roofline_json(const Roofline& roofline);

// How one op did against its roofline in one block: the work, the median time per timed pass, and
// what it is held against. to_json() is the `efficiency` object of profile's JSON.
struct OpEfficiency {
    OpWork work;
    double median_seconds = 0;
    std::string bound;                 // "fma", "memory", "parts" (sum of its parts) or "none"
    const MemoryLevel* level = nullptr;  // the memory level a memory-bound op is held against
    double roofline_gmacs_per_s = 0;   // the FMA peak (0 for bound "parts")
    double roofline_seconds = 0;
    nlohmann::json to_json() const;
};

// One op that took `median_seconds` per timed pass.
OpEfficiency op_efficiency(const Roofline& roofline, const OpWork& work, double median_seconds);
// An op made of parts (the learned predictor, dense attention on oneDNN): its work is theirs
// summed and its roofline time the sum of theirs (bound `parts`).
OpEfficiency parent_efficiency(const OpWork& work, double median_seconds, const std::vector<OpEfficiency>& parts);

// One row of the efficiency table: an op of a block ("qkv"), a part ("mask/key_topk"), or a
// model op ("patch_embed", "head").
struct EfficiencyRow {
    std::string key;
    OpEfficiency efficiency;
};

// Every op (and part, indented) summed over the blocks, in the order the rows come (the order of
// the forward pass): time, work, achieved rate and the fraction of roofline.
Table efficiency_table(const Roofline& roofline, const std::vector<EfficiencyRow>& rows);

}  // namespace sparsifiner
