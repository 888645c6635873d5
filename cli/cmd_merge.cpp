// sparsifiner merge: shard documents of `sparsifiner sweep --shard i/n --json` in, the document
// that one unsharded run would have printed out: counts and sums added, accuracies derived again
// from them, latency samples pooled, failed images listed in data-set order.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/sweep_plot.h"
#include "cli/sweep_table.h"
#include "cli/sweep_totals.h"

namespace sparsifiner {

namespace {

struct MergeFlags {
    std::vector<std::string> parts;
    std::string plot;  // --plot FILE.svg
    RunFlags run;      // --format only; its default here is json
};

// Every field merge reads, with its type, checked before it is read: a document from elsewhere
// may lack any of them (nlohmann's const operator[] on a missing key is undefined behaviour).
void part_validate(const nlohmann::json& doc, const std::string& path) {
    auto need = [&path](const nlohmann::json& object, const char* key, nlohmann::json::value_t type,
                        const std::string& where) -> const nlohmann::json& {
        const auto found = object.find(key);
        const bool number = type == nlohmann::json::value_t::number_integer;
        if (found == object.end() ||
            (number ? !found->is_number_integer() : found->type() != type))
            throw CommandError(kExitUsage, path + ": field " + where + key + " is missing or of the wrong type");
        return *found;
    };
    using T = nlohmann::json::value_t;
    for (const char* key : {"model", "data", "options", "shard", "images", "dense"}) need(doc, key, T::object, "");
    need(doc, "partial", T::boolean, "");
    const nlohmann::json& shard = doc["shard"];
    for (const char* key : {"index", "count", "images"}) need(shard, key, T::number_integer, "shard.");
    for (const char* key : {"attempted", "ok"}) need(doc["images"], key, T::number_integer, "images.");
    for (const nlohmann::json& error : need(doc, "errors", T::array, ""))
        if (!error.is_object() || !error.contains("index"))
            throw CommandError(kExitUsage, path + ": an entry of errors has no index");
    const long count = shard["count"].get<long>(), index = shard["index"].get<long>();
    if (count < 1 || count > 1000000 || index < 1 || index > count)
        throw CommandError(kExitUsage, path + ": shard " + std::to_string(index) + "/" + std::to_string(count) +
                                           " is not i/n with 1 <= i <= n <= 1000000");
    for (const char* key : {"images", "attempted", "ok"}) {
        const nlohmann::json& value = std::string(key) == "images" ? shard["images"] : doc["images"][key];
        if (value.get<long long>() < 0 || value.get<long long>() > (1LL << 40))
            throw CommandError(kExitUsage, path + ": image count out of range");
    }
    for (const nlohmann::json& setting : need(doc, "settings", T::array, ""))
        if (!setting.is_object() || !setting.contains("attention"))
            throw CommandError(kExitUsage, path + ": a setting has no attention field");
}

nlohmann::json part_read(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw CommandError(kExitUsage, path + ": cannot open");
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded()) throw CommandError(kExitUsage, path + ": not valid JSON");
    if (!doc.is_object() || doc.value("command", "") != "sweep" || doc.value("schema_version", 0) != kJsonSchemaVersion)
        throw CommandError(kExitUsage, path + ": not a schema_version 1 sweep document");
    part_validate(doc, path);
    return doc;
}

// The fields every shard of one sweep must share (anything else means parts of different sweeps).
void check_same(const nlohmann::json& first, const nlohmann::json& doc, const std::string& path,
                const std::string& first_path) {
    // The weights by content: the same file name may hold other weights on another machine.
    const std::string first_sha = first["model"].value("sha256", ""), sha = doc["model"].value("sha256", "");
    if (first_sha != sha)
        throw CommandError(kExitUsage, path + ": made with weights of SHA-256 " + (sha.empty() ? "(none recorded)" : sha) +
                                           ", but " + first_path + " with " +
                                           (first_sha.empty() ? "(none recorded)" : first_sha));
    for (const char* key : {"model", "data", "options"})
        if (first.at(key) != doc.at(key))
            throw CommandError(kExitUsage, path + ": \"" + key + "\" differs from the first part's");
    if (first["shard"]["count"] != doc["shard"]["count"])
        throw CommandError(kExitUsage, path + ": shard count differs from the first part's");
    if (first["settings"].size() != doc["settings"].size())
        throw CommandError(kExitUsage, path + ": a different number of settings");
    for (size_t i = 0; i < first["settings"].size(); i++)
        if (first["settings"][i]["attention"] != doc["settings"][i]["attention"] ||
            first["settings"][i].value("setting", "") != doc["settings"][i].value("setting", ""))
            throw CommandError(kExitUsage, path + ": setting " + std::to_string(i) + " differs");
}

nlohmann::json merged_totals(const nlohmann::json& first_row, const std::vector<SweepTotals>& parts) {
    SweepTotals sum;
    for (const SweepTotals& t : parts) sum.add(t);
    nlohmann::json row = {{"mask", first_row["mask"]}, {"keep_rate", first_row["keep_rate"]},
                          {"token_keep", first_row["token_keep"]}, {"attention", first_row["attention"]}};
    if (first_row.contains("setting")) row["setting"] = first_row["setting"];
    sum.to_json(row);
    return row;
}

int merge_run(const MergeFlags& flags) {
    const OutputFormat format = flags.run.output_format();
    if (!flags.plot.empty()) output_path_check(flags.plot);
    std::vector<nlohmann::json> docs;
    for (const std::string& path : flags.parts) docs.push_back(part_read(path));
    const nlohmann::json& first = docs[0];
    const int count = first["shard"]["count"].get<int>();
    // count is at most 1000000 (part_validate): this table stays small; a missing shard is named below.
    std::vector<int> seen(count + 1, 0);
    try {
        for (size_t p = 0; p < docs.size(); p++) {
            check_same(first, docs[p], flags.parts[p], flags.parts[0]);
            const int index = docs[p]["shard"]["index"].get<int>();
            if (index < 1 || index > count) throw CommandError(kExitUsage, flags.parts[p] + ": bad shard index");
            if (seen[index]++)
                throw CommandError(kExitUsage, flags.parts[p] + ": shard " + std::to_string(index) + "/" +
                                                   std::to_string(count) + " given twice");
        }
        for (int i = 1; i <= count; i++)
            if (!seen[i])
                throw CommandError(kExitUsage, "shard " + std::to_string(i) + "/" + std::to_string(count) +
                                                   " is missing (" + std::to_string(docs.size()) + " parts given)");

        nlohmann::json merged = first;
        long attempted = 0, ok = 0, shard_images = 0;
        bool partial = false;
        nlohmann::json errors = nlohmann::json::array(), merged_from = nlohmann::json::array();
        std::vector<SweepTotals> dense_parts;
        std::vector<std::vector<SweepTotals>> setting_parts(first["settings"].size());
        const nlohmann::json compared = first.value("dtype_compared", nlohmann::json::array());
        std::vector<std::vector<SweepTotals>> compared_parts(compared.size());
        std::vector<double> compared_max(compared.size(), 0.0);
        for (size_t p = 0; p < docs.size(); p++) {
            const nlohmann::json& doc = docs[p];
            attempted += doc["images"]["attempted"].get<long>();
            ok += doc["images"]["ok"].get<long>();
            shard_images += doc["shard"]["images"].get<long>();
            partial = partial || doc["partial"].get<bool>();
            for (const auto& e : doc["errors"]) errors.push_back(e);
            dense_parts.push_back(SweepTotals::from_json(doc["dense"]));
            for (size_t s = 0; s < setting_parts.size(); s++)
                setting_parts[s].push_back(SweepTotals::from_json(doc["settings"][s]));
            // Same "options" (and so the same --dtype list) in every part: the same rows.
            for (size_t c = 0; c < compared.size(); c++) {
                compared_parts[c].push_back(SweepTotals::from_json(doc.at("dtype_compared").at(c)));
                compared_max[c] = std::max(compared_max[c], doc["dtype_compared"][c].at("max_abs_logit_diff").get<double>());
            }
            merged_from.push_back({{"file", flags.parts[p]}, {"shard", doc["shard"]}, {"machine", doc["machine"]}});
        }
        std::sort(errors.begin(), errors.end(),
                  [](const nlohmann::json& a, const nlohmann::json& b) { return a["index"] < b["index"]; });
        merged["shard"] = {{"index", 1}, {"count", 1}, {"images", shard_images}};
        merged["partial"] = partial;
        merged["images"] = {{"attempted", attempted}, {"ok", ok}, {"failed", errors.size()}};
        merged["errors"] = errors;
        merged["dense"] = merged_totals(first["dense"], dense_parts);
        for (size_t s = 0; s < setting_parts.size(); s++)
            merged["settings"][s] = merged_totals(first["settings"][s], setting_parts[s]);
        for (size_t c = 0; c < compared.size(); c++) {
            nlohmann::json row = merged_totals(compared[c], compared_parts[c]);
            for (const char* key : {"dtype", "against"}) row[key] = compared[c][key];
            row["max_abs_logit_diff"] = compared_max[c];
            merged["dtype_compared"][c] = row;
        }
        merged["merged_from"] = merged_from;
        if (!flags.plot.empty()) sweep_plot_svg(merged, flags.plot);
        if (format == OutputFormat::json)
            std::printf("%s\n", json_text(merged).c_str());
        else
            table_print(sweep_table(merged), format);
        return partial ? 130 : errors.empty() ? kExitOk : kExitSomeInputsFailed;
    } catch (const nlohmann::json::exception& e) {
        throw CommandError(kExitUsage, "a part lacks a sweep field: " + std::string(e.what()));
    }
}

}  // namespace

Command merge_command(CLI::App& app) {
    auto flags = std::make_shared<MergeFlags>();
    CLI::App* command = app.add_subcommand(
        "merge", "Combine `sweep --shard i/n --json` documents into the document of one unsharded run (on stdout)");
    command->add_option("parts", flags->parts, "The shard documents (every shard 1..n exactly once)")->required();
    flags->run.format = "json";  // merge's document feeds other tools (tools/slurm-sweep.sh)
    flags->run.add_to(*command, RunFlags::kFormat);
    command->add_option("--plot", flags->plot, "Also draw the merged trade-off figure as an SVG file (see sweep --plot)");
    return {command, [flags] { return merge_run(*flags); }};
}

}  // namespace sparsifiner
