#pragma once
// `profile --trace FILE`: one timed forward pass as a Chrome / Perfetto trace (the JSON
// traceEvents format: open it at ui.perfetto.dev or chrome://tracing).
#include <string>

#include <nlohmann/json.hpp>

#include "core/model/forward_stats.h"

namespace sparsifiner {

// The pass as complete ("X") events: patch embed, then per block a span with its ops inside
// and the parts of mask and attention inside those, then the head. The op timers give each
// span's duration; the spans are laid end to end in the order the forward pass runs them, so
// start times are accumulated durations (the few microseconds between two timers are not shown).
nlohmann::json profile_trace_json(const ForwardStats& timed, const nlohmann::json& identity);

}  // namespace sparsifiner
