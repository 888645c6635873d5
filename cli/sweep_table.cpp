#include "cli/sweep_table.h"

#include <cmath>

namespace sparsifiner {

namespace {

// A ratio field (null when it does not apply, e.g. accuracy without labels) as "-".
std::string field(const nlohmann::json& value, double scale, int decimals) {
    return value.is_number() ? cell(value.get<double>() * scale, decimals) : "-";
}

}  // namespace

Table sweep_table(const nlohmann::json& doc) {
    Table t;
    const long images = doc["images"]["ok"].get<long>();
    t.title = "sweep over " + std::to_string(images) + " image(s); MHSA MMACs is the plotted x (q k + p v and "
              "the mask's own products, per image); GMACs the whole forward pass";
    t.columns = {"setting", "mask", "keep", "tokens", "images", "top1", "top5", "agree", "KL(nats)", "kept_mass",
                 "MHSA MMACs", "GMACs", "ms/image"};
    std::vector<nlohmann::json> rows = {doc["dense"]};
    for (const auto& s : doc["settings"]) rows.push_back(s);
    // Older documents have no dtype comparison.
    const nlohmann::json compared = doc.value("dtype_compared", nlohmann::json::array());
    for (const auto& s : compared) rows.push_back(s);
    for (const auto& r : rows)
        t.add({r["setting"].get<std::string>(), r["mask"].get<std::string>(), cell(r["keep_rate"].get<double>(), 3),
               cell(r["token_keep"].get<double>(), 3), cell((long long)r["images"].get<long>()),
               field(r["top1_accuracy"], 1, 4), field(r["top5_accuracy"], 1, 4), field(r["top1_agreement"], 1, 4),
               field(r["kl_mean_nats"], 1, 4), field(r["kept_mass_mean"], 1, 4),
               field(r["mhsa_macs_per_image"], 1e-6, 3), field(r["macs_per_image"], 1e-9, 4),
               field(r["latency_ms_median"], 1, 3)});
    for (const auto& r : compared)
        t.notes.push_back(r["setting"].get<std::string>() + ": dense attention in " + r["dtype"].get<std::string>() +
                          "; agree and KL against dense in " + r["against"].get<std::string>() +
                          "; max |logit difference| " + cell(r["max_abs_logit_diff"].get<double>(), 5));
    if (doc["partial"].get<bool>()) t.notes.push_back("(partial: interrupted)");
    return t;
}

}  // namespace sparsifiner
