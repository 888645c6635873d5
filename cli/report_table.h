#pragma once
// One table, printed as aligned text, CSV or Markdown: every --format except json renders a
// command's report through this, so the formats cannot drift apart.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/flags.h"

namespace sparsifiner {

struct Table {
    std::string title;                  // a caption line above the text and Markdown forms
    std::vector<std::string> columns;   // headers (CSV: the header row)
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> notes;     // lines below the text and Markdown forms (not in CSV)

    void add(std::vector<std::string> row) { rows.push_back(std::move(row)); }
};

// "%.<decimals>f" of value; "-" for NaN (a quantity that does not apply).
std::string cell(double value, int decimals);
std::string cell(long long value);

// table: columns padded, numbers right-aligned; csv: RFC 4180 quoting, no title or notes;
// md: a pipe table. The json format has no table: a caller never asks for it.
void table_print(const Table& table, OutputFormat format, std::FILE* out = stdout);

// Several tables: text and Markdown with a blank line between; CSV prints only the first (one CSV
// file holds one table) and the others are for the text forms.
void tables_print(const std::vector<Table>& tables, OutputFormat format, std::FILE* out = stdout);

}  // namespace sparsifiner
