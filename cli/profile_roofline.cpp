#include "cli/profile_roofline.h"

#include <cmath>
#include <map>

#include "core/model/forward_stats.h"

namespace sparsifiner {

namespace {

// value / seconds scaled, or null when either is zero (nothing to rate).
nlohmann::json rate(double value, double seconds, double scale) {
    if (value <= 0 || seconds <= 0) return nullptr;
    return value / seconds / scale;
}

nlohmann::json work_json(const OpWork& work, double median_seconds) {
    return {{"macs", work.macs},
            {"elements", work.elements},
            {"elements_of", work.elements_of},
            {"bytes", work.bytes},
            {"footprint_bytes", work.footprint},
            {"median_ms", median_seconds * 1e3},
            {"gmacs_per_s", rate(work.macs, median_seconds, 1e9)},
            {"ns_per_element", work.elements > 0 && median_seconds > 0 ? nlohmann::json(median_seconds * 1e9 / work.elements)
                                                                      : nlohmann::json(nullptr)},
            {"gb_per_s", rate(work.bytes, median_seconds, 1e9)}};
}

nlohmann::json fraction(double roofline_seconds, double median_seconds) {
    if (median_seconds <= 0) return nullptr;
    return roofline_seconds / median_seconds;
}

}  // namespace

nlohmann::json roofline_json(const Roofline& roofline) {
    nlohmann::json levels = nlohmann::json::array();
    for (const MemoryLevel& level : roofline.levels)
        levels.push_back({{"level", level.name},
                          {"capacity_bytes", std::isfinite(level.capacity) ? nlohmann::json(level.capacity)
                                                                           : nlohmann::json(nullptr)},
                          {"probe_buffer_bytes", level.buffer_bytes},
                          {"gb_per_s", level.gb_per_s}});
    return {{"threads", roofline.threads},
            {"fma_gmacs_per_s", roofline.fma_gmacs_per_s},
            {"fma_source", "best of 5 oneDNN f32 matmuls of " + std::to_string(roofline.matmul_size) + "^3, in GMAC/s"},
            {"memory", levels},
            {"memory_source", "streaming read (sum) of a buffer sized for each level, all threads, best of 3"}};
}

nlohmann::json OpEfficiency::to_json() const {
    nlohmann::json e = work_json(work, median_seconds);
    e["bound"] = bound;
    e["level"] = level ? nlohmann::json(level->name) : nlohmann::json(nullptr);
    e["roofline_gmacs_per_s"] = bound == "parts" ? nlohmann::json(nullptr) : nlohmann::json(roofline_gmacs_per_s);
    e["roofline_gb_per_s"] = level ? nlohmann::json(level->gb_per_s) : nlohmann::json(nullptr);
    e["roofline_ms"] = roofline_seconds * 1e3;
    e["fraction"] = bound == "none" ? nlohmann::json(nullptr) : fraction(roofline_seconds, median_seconds);
    return e;
}

OpEfficiency op_efficiency(const Roofline& roofline, const OpWork& work, double median_seconds) {
    const OpBound bound = op_bound(roofline, work);
    const bool any_work = work.macs > 0 || work.bytes > 0;
    OpEfficiency e;
    e.work = work;
    e.median_seconds = median_seconds;
    e.bound = !any_work ? "none" : bound.fma_bound() ? "fma" : "memory";
    e.level = bound.level;
    e.roofline_gmacs_per_s = roofline.fma_gmacs_per_s;
    e.roofline_seconds = bound.seconds();
    return e;
}

OpEfficiency parent_efficiency(const OpWork& work, double median_seconds, const std::vector<OpEfficiency>& parts) {
    OpEfficiency e;
    e.work = work;
    e.median_seconds = median_seconds;
    e.bound = "parts";
    for (const OpEfficiency& part : parts) e.roofline_seconds += part.roofline_seconds;
    return e;
}

Table efficiency_table(const Roofline& roofline, const std::vector<EfficiencyRow>& rows) {
    // Sums per op over the blocks, in the order of the forward pass; a part's key is "parent/part".
    struct Sum {
        double ms = 0, macs = 0, elements = 0, bytes = 0, roofline_ms = 0;
        std::string bound, level, roofline;
    };
    std::map<std::string, Sum> sums;
    std::vector<std::string> order;
    for (const EfficiencyRow& row : rows) {
        if (sums.find(row.key) == sums.end()) order.push_back(row.key);
        Sum& s = sums[row.key];
        const OpEfficiency& e = row.efficiency;
        s.ms += e.median_seconds * 1e3;
        s.macs += e.work.macs;
        s.elements += e.work.elements;
        s.bytes += e.work.bytes;
        s.roofline_ms += e.roofline_seconds * 1e3;
        if (e.bound == "none") continue;  // a block where the op had nothing to do
        const std::string level = e.level ? e.level->name : "";
        char text[64] = "";
        if (e.bound == "fma")
            std::snprintf(text, sizeof text, "%.1f GMAC/s", e.roofline_gmacs_per_s);
        else if (e.bound == "memory")
            std::snprintf(text, sizeof text, "%s %.1f GB/s", level.c_str(), e.level->gb_per_s);
        else
            std::snprintf(text, sizeof text, "sum of parts");
        if (s.bound.empty()) {
            s.bound = e.bound, s.level = level, s.roofline = text;
        } else if (s.bound != e.bound || s.level != level) {
            s.bound = "mixed", s.roofline = "per block (JSON)";
        }
    }

    Table t;
    char title[256];
    std::snprintf(title, sizeof title,
                  "efficiency per op, summed over blocks (median ms per pass); roofline: FMA %.1f GMAC/s (in-run "
                  "matmul), memory by working set:",
                  roofline.fma_gmacs_per_s);
    t.title = title;
    for (const MemoryLevel& level : roofline.levels) {
        char part[48];
        std::snprintf(part, sizeof part, " %s %.1f GB/s", level.name.c_str(), level.gb_per_s);
        t.title += part;
    }
    t.columns = {"op", "ms", "GMACs", "Melements", "MB", "GMAC/s", "ns/element", "GB/s", "bound", "roofline",
                 "of roofline"};
    const double nan = std::nan("");
    for (const std::string& key : order) {
        const Sum& s = sums[key];
        const size_t slash = key.find('/');
        const std::string label = slash == std::string::npos ? key : "  " + key.substr(slash + 1);
        const bool timed = s.ms > 0;
        t.add({label, cell(s.ms, 3), cell(s.macs > 0 ? s.macs / 1e9 : nan, 4),
               cell(s.elements > 0 ? s.elements / 1e6 : nan, 2), cell(s.bytes > 0 ? s.bytes / 1e6 : nan, 1),
               cell(timed && s.macs > 0 ? s.macs / s.ms / 1e6 : nan, 1),
               cell(timed && s.elements > 0 ? s.ms * 1e6 / s.elements : nan, 3),
               cell(timed && s.bytes > 0 ? s.bytes / s.ms / 1e6 : nan, 1), s.bound.empty() ? "-" : s.bound,
               s.roofline.empty() ? "-" : s.roofline,
               timed && !s.bound.empty() ? cell(100 * s.roofline_ms / s.ms, 1) + "%" : "-"});
    }
    t.notes = {"roofline time = max(MACs / FMA peak, bytes / bandwidth of the level the working set fits in); "
               "of roofline = roofline time / measured time. Selections and softmaxes are held against reading "
               "each element once: a loose floor, follow their ns/element (docs/usage.md)"};
    return t;
}

}  // namespace sparsifiner
