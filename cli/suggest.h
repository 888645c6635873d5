#pragma once
// "did you mean ...?" for a mistyped subcommand or flag.
#include <string>
#include <vector>

namespace sparsifiner {

// The candidate closest to `word` by edit distance, or "" when none is close enough to be a
// likely typo (at most a third of the word's length, and at least 2, edits away).
std::string nearest_word(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace sparsifiner
