#pragma once
// Progress of a long command on stderr: one line redrawn in place (a bar, the count, the rate and
// the time left) when stderr is a terminal; nothing on a pipe or a file, unless --progress asks
// for plain lines there (at most one a second). --quiet silences both. Results never go here.
#include <chrono>
#include <string>

namespace sparsifiner {

struct RunFlags;

class Progress {
public:
    // `label` starts the line ("sweep", "bench batch 8"); `unit` names what is counted ("images").
    Progress(const RunFlags& flags, const std::string& label, const std::string& unit, long total);
    // For tests and commands without RunFlags: explicit choices.
    Progress(bool terminal, bool lines, const std::string& label, const std::string& unit, long total);
    ~Progress() { finish(); }
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void update(long done);
    // Ends the redrawn line (clears it) so that whatever follows starts on a clean line.
    void finish();
    bool shown() const { return terminal_ || lines_; }

private:
    bool terminal_, lines_, drawn_ = false, finished_ = false;
    std::string label_, unit_;
    long total_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

}  // namespace sparsifiner
