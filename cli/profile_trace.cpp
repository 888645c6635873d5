#include "cli/profile_trace.h"

namespace sparsifiner {

namespace {

nlohmann::json span(const std::string& name, const char* category, double start_us, double seconds,
                    nlohmann::json args = nlohmann::json::object()) {
    return {{"name", name}, {"cat", category}, {"ph", "X"}, {"ts", start_us}, {"dur", seconds * 1e6},
            {"pid", 1},     {"tid", 1},        {"args", std::move(args)}};
}

}  // namespace

nlohmann::json profile_trace_json(const ForwardStats& timed, const nlohmann::json& identity) {
    nlohmann::json events = nlohmann::json::array();
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", "sparsifiner forward"}}}});
    double now_us = 0;
    const double patch = timed.seconds[(int)ModelOp::patch_embed];
    events.push_back(span("patch_embed", "model", now_us, patch));
    now_us += patch * 1e6;
    for (size_t b = 0; b < timed.blocks.size(); b++) {
        const BlockStats& block = timed.blocks[b];
        double block_seconds = 0;
        for (double s : block.seconds) block_seconds += s;
        events.push_back(span("block " + std::to_string(b), "block", now_us, block_seconds,
                              {{"mask", mask_source_name(block.mask)}, {"tokens_in", block.tokens_in},
                               {"kept_keys", block.kept_keys}}));
        for (int op = 0; op < (int)BlockOp::count; op++) {
            const double seconds = block.seconds[op];
            events.push_back(span(block_op_name((BlockOp)op), "op", now_us, seconds, {{"block", (int)b}}));
            // The parts of mask and attention, nested inside their op.
            double part_us = now_us;
            for (int sub = 0; sub < (int)SubOp::count; sub++) {
                if ((int)sub_op_parent((SubOp)sub) != op || !sub_op_applies((SubOp)sub, block.mask)) continue;
                const double part = block.sub_seconds[sub];
                events.push_back(span(sub_op_name((SubOp)sub), "sub_op", part_us, part, {{"block", (int)b}}));
                part_us += part * 1e6;
            }
            now_us += seconds * 1e6;
        }
    }
    events.push_back(span("head", "model", now_us, timed.seconds[(int)ModelOp::head]));
    return {{"traceEvents", events},
            {"displayTimeUnit", "ms"},
            {"otherData", {{"tool", identity},
                           {"note", "one timed forward pass with op timers; durations measured, spans laid end to "
                                    "end in execution order"}}}};
}

}  // namespace sparsifiner
