#include "cli/sweep_plot.h"

#include "cli/output_file.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace sparsifiner {

namespace {

struct Point {
    double x, y;          // GMACs, percent
    double low, high;     // the 95% Wilson interval of y, percent
    std::string label;
};

// The Wilson score interval (95%) of a proportion p measured on n images, in percent: unlike
// p +- 1.96 sigma it stays inside [0, 100] and is honest at p = 0 or 1 and for small n.
void wilson_interval(double p, double n, double* low, double* high) {
    if (n <= 0) {
        *low = *high = 100 * p;
        return;
    }
    const double z = 1.959964, z2 = z * z;
    const double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
    const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
    *low = 100 * std::max(0.0, centre - half);
    *high = 100 * std::min(1.0, centre + half);
}

// What a setting contributes: accuracy when labels are known, else agreement with dense.
bool point_of(const nlohmann::json& row, bool labelled, Point* point) {
    const nlohmann::json& y = labelled ? row["top1_accuracy"] : row["top1_agreement"];
    if (!y.is_number() || !row["mhsa_macs_per_image"].is_number()) return false;
    point->x = row["mhsa_macs_per_image"].get<double>() / 1e9;
    point->y = 100 * y.get<double>();
    // Accuracy counts the labelled images, agreement every image of the setting.
    const char* count_key = labelled ? "labelled" : "images";
    const double n = row.contains(count_key) && row[count_key].is_number() ? row[count_key].get<double>() : 0;
    wilson_interval(y.get<double>(), n, &point->low, &point->high);
    std::ostringstream label;
    label << row["keep_rate"].get<double>();
    if (row.contains("token_keep") && row["token_keep"].is_number() && row["token_keep"].get<double>() != 1.0)
        label << " t" << row["token_keep"].get<double>();
    point->label = label.str();
    return true;
}

// Round numbers for the ticks: 1, 2 or 5 times a power of ten, about five of them.
std::vector<double> ticks(double low, double high) {
    double span = std::max(high - low, 1e-9), raw = span / 5, power = std::pow(10, std::floor(std::log10(raw)));
    double step = raw / power < 1.5 ? power : raw / power < 3.5 ? 2 * power : raw / power < 7.5 ? 5 * power : 10 * power;
    std::vector<double> out;
    for (double t = std::ceil(low / step) * step; t <= high + 1e-9 * span; t += step) out.push_back(t);
    return out;
}

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '&') out += "&amp;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

const char* colour_of(const std::string& mask) {
    if (mask == "learned") return "#d62728";
    if (mask == "oracle") return "#1f77b4";
    if (mask == "window") return "#2ca02c";
    return "#9467bd";
}

}  // namespace

void sweep_plot_svg(const nlohmann::json& doc, const std::string& path) {
    const bool labelled = doc["dense"].value("labelled", 0) > 0 && doc["dense"]["top1_accuracy"].is_number();
    Point dense{};
    const bool has_dense = point_of(doc["dense"], labelled, &dense);
    std::map<std::string, std::vector<Point>> lines;  // by mask source
    for (const nlohmann::json& row : doc["settings"]) {
        Point p{};
        if (point_of(row, labelled, &p)) lines[row["mask"].get<std::string>()].push_back(p);
    }
    double x_low = has_dense ? dense.x : 1e300, x_high = has_dense ? dense.x : -1e300;
    double y_low = has_dense ? dense.y : 1e300, y_high = has_dense ? dense.y : -1e300;
    for (auto& [mask, points] : lines) {
        std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
        for (const Point& p : points) {
            x_low = std::min(x_low, p.x), x_high = std::max(x_high, p.x);
            y_low = std::min(y_low, p.low), y_high = std::max(y_high, p.high);
        }
    }
    if (has_dense) y_low = std::min(y_low, dense.low), y_high = std::max(y_high, dense.high);
    if (x_low > x_high) x_low = 0, x_high = 1, y_low = 0, y_high = 100;
    // A margin so that no point sits on the frame.
    const double x_pad = std::max((x_high - x_low) * 0.08, 1e-3), y_pad = std::max((y_high - y_low) * 0.1, 1.0);
    x_low = std::max(0.0, x_low - x_pad), x_high += x_pad;
    y_low = std::max(0.0, y_low - y_pad), y_high = std::min(100.0, y_high + y_pad);

    // Readable units on the x axis: M MACs for small models (the bundled ones spend ~4 M on MHSA).
    const bool in_millions = x_high < 1.0;
    const double x_unit = in_millions ? 1e3 : 1.0;
    const double width = 720, height = 480, left = 70, right = 160, top = 40, bottom = 60;
    const double plot_w = width - left - right, plot_h = height - top - bottom;
    auto sx = [&](double x) { return left + (x - x_low) / (x_high - x_low) * plot_w; };
    auto sy = [&](double y) { return top + (1 - (y - y_low) / (y_high - y_low)) * plot_h; };

    std::ostringstream svg;
    svg.precision(6);
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
        << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    const std::string y_name = labelled ? "top-1 accuracy (%)" : "top-1 agreement with dense (%)";
    const long images = doc["dense"].contains("images") && doc["dense"]["images"].is_number()
                            ? doc["dense"]["images"].get<long>() : 0;
    svg << "<text class=\"title\" x=\"" << left << "\" y=\"24\" font-size=\"15\">" << escape(y_name)
        << " vs MHSA MACs: " << escape(doc["model"].value("arch", std::string("model"))) << ", " << images
        << " images</text>\n";
    for (double t : ticks(x_low * x_unit, x_high * x_unit)) {
        const double x = sx(t / x_unit);
        svg << "<line class=\"grid\" x1=\"" << x << "\" y1=\"" << top << "\" x2=\"" << x << "\" y2=\""
            << top + plot_h << "\" stroke=\"#ddd\"/>\n";
        svg << "<text x=\"" << x << "\" y=\"" << top + plot_h + 18 << "\" text-anchor=\"middle\">" << t << "</text>\n";
    }
    for (double t : ticks(y_low, y_high)) {
        svg << "<line class=\"grid\" x1=\"" << left << "\" y1=\"" << sy(t) << "\" x2=\"" << left + plot_w << "\" y2=\""
            << sy(t) << "\" stroke=\"#ddd\"/>\n";
        svg << "<text x=\"" << left - 8 << "\" y=\"" << sy(t) + 4 << "\" text-anchor=\"end\">" << t << "</text>\n";
    }
    svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\"" << plot_h
        << "\" fill=\"none\" stroke=\"black\"/>\n";
    svg << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << height - 18
        << "\" text-anchor=\"middle\">MHSA MACs per image (" << (in_millions ? "M" : "G")
        << "): q k + p v + mask selection; bars: 95% Wilson intervals</text>\n";
    svg << "<text transform=\"translate(18," << top + plot_h / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
        << escape(y_name) << "</text>\n";

    // A vertical bar for each point's interval.
    auto interval_bar = [&](const Point& p, const char* colour) {
        svg << "<line class=\"interval\" x1=\"" << sx(p.x) << "\" y1=\"" << sy(p.low) << "\" x2=\"" << sx(p.x)
            << "\" y2=\"" << sy(p.high) << "\" stroke=\"" << colour << "\" stroke-opacity=\"0.6\"/>\n";
    };
    // Settings of several mask sources can land on one spot (keep rate 1.0 is dense for all of
    // them): such a spot gets one label, not a pile of overprinted ones.
    std::vector<std::pair<long, long>> labelled_spots;
    auto spot_free = [&](double x, double y) {
        const std::pair<long, long> spot{std::lround(x), std::lround(y)};
        if (std::find(labelled_spots.begin(), labelled_spots.end(), spot) != labelled_spots.end()) return false;
        labelled_spots.push_back(spot);
        return true;
    };
    int legend_row = 0;
    for (const auto& [mask, points] : lines) {
        const char* colour = colour_of(mask);
        svg << "<polyline class=\"mask\" data-mask=\"" << escape(mask) << "\" fill=\"none\" stroke=\"" << colour
            << "\" stroke-width=\"2\" points=\"";
        for (const Point& p : points) svg << sx(p.x) << "," << sy(p.y) << " ";
        svg << "\"/>\n";
        for (const Point& p : points) {
            interval_bar(p, colour);
            svg << "<circle class=\"point\" data-mask=\"" << escape(mask) << "\" cx=\"" << sx(p.x) << "\" cy=\""
                << sy(p.y) << "\" r=\"4\" fill=\"" << colour << "\"/>\n";
            if (spot_free(sx(p.x), sy(p.y)))
                svg << "<text class=\"label\" x=\"" << sx(p.x) + 6 << "\" y=\"" << sy(p.y) - 6 << "\" fill=\""
                    << colour << "\">" << escape(p.label) << "</text>\n";
        }
        const double ly = top + 10 + 20 * legend_row++;
        svg << "<line x1=\"" << left + plot_w + 15 << "\" y1=\"" << ly << "\" x2=\"" << left + plot_w + 40 << "\" y2=\""
            << ly << "\" stroke=\"" << colour << "\" stroke-width=\"2\"/>\n";
        svg << "<text x=\"" << left + plot_w + 46 << "\" y=\"" << ly + 4 << "\">" << escape(mask) << "</text>\n";
    }
    if (has_dense) {
        interval_bar(dense, "black");
        svg << "<rect class=\"dense\" x=\"" << sx(dense.x) - 4 << "\" y=\"" << sy(dense.y) - 4
            << "\" width=\"8\" height=\"8\" fill=\"black\"/>\n";
        svg << "<text x=\"" << sx(dense.x) - 6 << "\" y=\"" << sy(dense.y) - 8 << "\" text-anchor=\"end\">dense</text>\n";
        const double ly = top + 10 + 20 * legend_row;
        svg << "<rect x=\"" << left + plot_w + 23 << "\" y=\"" << ly - 4 << "\" width=\"8\" height=\"8\" fill=\"black\"/>\n";
        svg << "<text x=\"" << left + plot_w + 46 << "\" y=\"" << ly + 4 << "\">dense</text>\n";
    }
    svg << "<text x=\"" << left + plot_w + 15 << "\" y=\"" << top + plot_h
        << "\" font-size=\"10\" fill=\"#555\">labels: keep rate</text>\n";
    svg << "</svg>\n";

    output_file_write(path, svg.str());
}

}  // namespace sparsifiner
