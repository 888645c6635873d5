#include "cli/report_table.h"

#include <cmath>
#include <cstdlib>

#include "cli/common.h"

namespace sparsifiner {

namespace {

bool looks_numeric(const std::string& text) {
    if (text.empty() || text == "-") return true;
    char* end = nullptr;
    std::strtod(text.c_str(), &end);
    return end != text.c_str() && (*end == '\0' || *end == '%' || *end == 'x');
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return quoted + "\"";
}

std::string md_field(const std::string& text) {
    std::string out;
    for (char ch : text) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
    return out;
}

}  // namespace

std::string cell(double value, int decimals) {
    if (std::isnan(value)) return "-";
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

std::string cell(long long value) { return std::to_string(value); }

void table_print(const Table& raw, OutputFormat format, std::FILE* out) {
    // Cells may hold text from a model file or a file name (metadata, class names): control
    // characters are shown escaped, never sent to the terminal.
    Table table = raw;
    table.title = table_text(table.title);
    for (std::string& column : table.columns) column = table_text(column);
    for (auto& row : table.rows)
        for (std::string& value : row) value = table_text(value);
    for (std::string& note : table.notes) note = table_text(note);
    const size_t n = table.columns.size();
    if (format == OutputFormat::csv) {
        for (size_t c = 0; c < n; c++) std::fprintf(out, "%s%s", c ? "," : "", csv_field(table.columns[c]).c_str());
        std::fprintf(out, "\n");
        for (const auto& row : table.rows) {
            for (size_t c = 0; c < n; c++)
                std::fprintf(out, "%s%s", c ? "," : "", csv_field(c < row.size() ? row[c] : "").c_str());
            std::fprintf(out, "\n");
        }
        return;
    }
    if (format == OutputFormat::md) {
        if (!table.title.empty()) std::fprintf(out, "**%s**\n\n", md_field(table.title).c_str());
        std::string header = "|", rule = "|";
        for (size_t c = 0; c < n; c++) {
            header += " " + md_field(table.columns[c]) + " |";
            bool numeric = true;
            for (const auto& row : table.rows) numeric = numeric && c < row.size() && looks_numeric(row[c]);
            rule += numeric && !table.rows.empty() ? " ---: |" : " --- |";
        }
        std::fprintf(out, "%s\n%s\n", header.c_str(), rule.c_str());
        for (const auto& row : table.rows) {
            std::string line = "|";
            for (size_t c = 0; c < n; c++) line += " " + md_field(c < row.size() ? row[c] : "") + " |";
            std::fprintf(out, "%s\n", line.c_str());
        }
        for (const std::string& note : table.notes) std::fprintf(out, "\n%s\n", md_field(note).c_str());
        return;
    }
    // Aligned text: every column as wide as its widest cell; numbers to the right.
    std::vector<size_t> width(n);
    std::vector<bool> numeric(n, true);
    for (size_t c = 0; c < n; c++) {
        width[c] = table.columns[c].size();
        for (const auto& row : table.rows) {
            const std::string& v = c < row.size() ? row[c] : std::string();
            width[c] = std::max(width[c], v.size());
            numeric[c] = numeric[c] && looks_numeric(v);
        }
    }
    if (!table.title.empty()) std::fprintf(out, "%s\n", table.title.c_str());
    auto print_row = [&](const std::vector<std::string>& row) {
        std::string line;
        for (size_t c = 0; c < n; c++) {
            const std::string& v = c < row.size() ? row[c] : std::string();
            const std::string pad(width[c] - v.size(), ' ');
            line += (c ? "  " : "") + (numeric[c] ? pad + v : (c + 1 < n ? v + pad : v));
        }
        std::fprintf(out, "%s\n", line.c_str());
    };
    print_row(table.columns);
    for (const auto& row : table.rows) print_row(row);
    for (const std::string& note : table.notes) std::fprintf(out, "%s\n", note.c_str());
}

void tables_print(const std::vector<Table>& tables, OutputFormat format, std::FILE* out) {
    for (size_t i = 0; i < tables.size(); i++) {
        if (format == OutputFormat::csv && i > 0) break;
        if (i > 0) std::fprintf(out, "\n");
        table_print(tables[i], format, out);
    }
}

}  // namespace sparsifiner
