// sparsifiner compare A.json B.json: two bench or two profile documents side by side, per
// configuration (bench) or per op (profile): both times, how many times faster or slower B is
// than A, and whether the difference is larger than the runs' own spread.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <tuple>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/report_table.h"
#include "core/platform/timing.h"

namespace sparsifiner {

namespace {

struct CompareFlags {
    std::string a, b;
    RunFlags run;  // --format only
};

// A time with its spread: [low, high] is where the middle of its runs lie.
struct Timing {
    double median = 0, low = 0, high = 0;
};

struct CompareRow {
    std::string item;
    Timing a, b;
};

nlohmann::json document_read(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw CommandError(kExitUsage, path + ": cannot open");
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) throw CommandError(kExitUsage, path + ": not a JSON document");
    const std::string command = doc.value("command", "");
    if (command != "bench" && command != "profile")
        throw CommandError(kExitUsage, path + ": a " + (command.empty() ? "non-sparsifiner" : command) +
                                           " document; compare takes bench or profile documents");
    return doc;
}

// Bench: the interquartile range of the samples.
Timing bench_timing(const nlohmann::json& config) {
    const std::vector<double> samples = config.at("samples_ms").get<std::vector<double>>();
    return {quantile(samples, 0.5), quantile(samples, 0.25), quantile(samples, 0.75)};
}

// Profile keeps medians and p90s only: the spread is median .. p90.
Timing profile_timing(double median, double p90) { return {median, median, std::max(median, p90)}; }

// Configurations match by batch, threads and dtype (documents older than --dtype ran f32).
std::vector<CompareRow> bench_rows(const nlohmann::json& a, const nlohmann::json& b) {
    using Key = std::tuple<int, int, std::string>;
    auto key_of = [](const nlohmann::json& c) {
        return Key{c.at("batch").get<int>(), c.at("threads").get<int>(), c.value("dtype", std::string("f32"))};
    };
    std::map<Key, Timing> in_b;
    for (const auto& c : b.at("configs")) in_b[key_of(c)] = bench_timing(c);
    std::vector<CompareRow> rows;
    for (const auto& c : a.at("configs")) {
        const Key key = key_of(c);
        auto found = in_b.find(key);
        if (found == in_b.end()) continue;
        const std::string& dtype = std::get<2>(key);
        rows.push_back({"batch " + std::to_string(std::get<0>(key)) + ", " + std::to_string(std::get<1>(key)) +
                            " thread(s)" + (dtype == "f32" ? "" : ", " + dtype),
                        bench_timing(c), found->second});
    }
    return rows;
}

// Per op: summed over the blocks (medians and p90s); then the end-to-end latency.
std::map<std::string, Timing> profile_ops(const nlohmann::json& doc) {
    std::map<std::string, Timing> ops;
    for (const auto& layer : doc.at("layers"))
        for (const auto& [name, op] : layer.at("ops").items()) {
            Timing& t = ops[name];
            const Timing one = profile_timing(op.at("median_ms").get<double>(), op.at("p90_ms").get<double>());
            t.median += one.median, t.low += one.low, t.high += one.high;
        }
    const auto& latency = doc.at("totals").at("latency_ms");
    ops["end to end"] = profile_timing(latency.at("median").get<double>(), latency.at("p90").get<double>());
    return ops;
}

std::vector<CompareRow> profile_rows(const nlohmann::json& a, const nlohmann::json& b) {
    const std::map<std::string, Timing> ops_a = profile_ops(a), ops_b = profile_ops(b);
    std::vector<CompareRow> rows;
    for (const auto& [name, t] : ops_a) {
        auto found = ops_b.find(name);
        if (found != ops_b.end() && name != "end to end") rows.push_back({name + " (all blocks)", t, found->second});
    }
    rows.push_back({"end to end", ops_a.at("end to end"), ops_b.at("end to end")});
    return rows;
}

// "1.42x faster" / "1.10x slower" / "same": B against A, by the medians.
std::string ratio_text(const Timing& a, const Timing& b) {
    if (a.median <= 0 || b.median <= 0) return "-";
    char text[48];
    if (b.median < a.median) std::snprintf(text, sizeof text, "%.2fx faster", a.median / b.median);
    else if (b.median > a.median) std::snprintf(text, sizeof text, "%.2fx slower", b.median / a.median);
    else return "same";
    return text;
}

// The difference counts when the two spreads do not overlap.
bool beyond_spread(const Timing& a, const Timing& b) { return a.high < b.low || b.high < a.low; }

int compare_run(const CompareFlags& flags) {
    const OutputFormat format = flags.run.output_format();
    const nlohmann::json a = document_read(flags.a), b = document_read(flags.b);
    const std::string kind = a["command"].get<std::string>();
    if (b["command"] != kind)
        throw CommandError(kExitUsage, flags.b + ": a " + b["command"].get<std::string>() + " document, but " +
                                           flags.a + " is a " + kind + " document");
    std::vector<CompareRow> rows;
    try {
        rows = kind == "bench" ? bench_rows(a, b) : profile_rows(a, b);
    } catch (const nlohmann::json::exception& e) {
        throw CommandError(kExitUsage, "a " + kind + " document lacks a field: " + std::string(e.what()));
    }
    if (rows.empty()) throw CommandError(kExitUsage, "the two documents have no configuration in common");
    const char* spread = kind == "bench" ? "interquartile ranges" : "median..p90 ranges";
    if (format == OutputFormat::json) {
        nlohmann::json document = json_document("compare");
        document["a"] = flags.a, document["b"] = flags.b, document["kind"] = kind;
        document["spread"] = spread;
        document["rows"] = nlohmann::json::array();
        for (const CompareRow& r : rows)
            document["rows"].push_back({{"item", r.item}, {"a_median_ms", r.a.median}, {"b_median_ms", r.b.median},
                                        {"speedup", r.b.median > 0 ? r.a.median / r.b.median : 0.0},
                                        {"beyond_spread", beyond_spread(r.a, r.b)}});
        std::printf("%s\n", json_text(document).c_str());
        return kExitOk;
    }
    Table t;
    t.title = "A = " + flags.a + ", B = " + flags.b + " (" + kind + "; medians in ms, B against A)";
    t.columns = {"item", "A ms", "B ms", "B vs A", "beyond spread"};
    for (const CompareRow& r : rows)
        t.add({r.item, cell(r.a.median, 3), cell(r.b.median, 3), ratio_text(r.a, r.b),
               beyond_spread(r.a, r.b) ? "yes" : "no"});
    t.notes.push_back(std::string("beyond spread: the runs' ") + spread + " do not overlap");
    table_print(t, format);
    return kExitOk;
}

}  // namespace

Command compare_command(CLI::App& app) {
    auto flags = std::make_shared<CompareFlags>();
    CLI::App* command = app.add_subcommand(
        "compare", "Two bench or two profile JSON documents side by side: times, 'Nx faster', beyond the spread?");
    command->add_option("A", flags->a, "The baseline document (bench --json or profile --json)")->required();
    command->add_option("B", flags->b, "The document compared with it")->required();
    flags->run.add_to(*command, RunFlags::kFormat);
    return {command, [flags] { return compare_run(*flags); }};
}

}  // namespace sparsifiner
