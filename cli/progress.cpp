#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include "cli/flags.h"

namespace sparsifiner {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string clock_text(double seconds) {
    char text[32];
    const long s = (long)(seconds + 0.5);
    if (s >= 3600) std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
    return text;
}

}  // namespace

Progress::Progress(const RunFlags& flags, const std::string& label, const std::string& unit, long total)
    : Progress(flags.progress_on_terminal() && isatty(STDERR_FILENO),
               flags.progress_forced() && !isatty(STDERR_FILENO), label, unit, total) {}

Progress::Progress(bool terminal, bool lines, const std::string& label, const std::string& unit, long total)
    : terminal_(terminal), lines_(lines && !terminal), label_(label), unit_(unit), total_(total) {}

void Progress::update(long done) {
    if (!terminal_ && !lines_) return;
    const double since_last = seconds_since(last_);
    // A terminal is redrawn ten times a second at most; lines come once a second, and for the
    // first and the last item (so a reader sees at once that the work started and ended).
    if (terminal_ && since_last < 0.1 && done != total_ && drawn_) return;
    if (lines_ && since_last < 1.0 && done != total_ && done != 1) return;
    last_ = std::chrono::steady_clock::now();
    const double elapsed = seconds_since(start_);
    const double rate = elapsed > 0 ? done / elapsed : 0;
    const double eta = rate > 0 ? (total_ - done) / rate : 0;
    if (lines_) {
        std::fprintf(stderr, "%s: %ld/%ld %s, %.2f %s/s, ETA %s\n", label_.c_str(), done, total_, unit_.c_str(), rate,
                     unit_.c_str(), clock_text(eta).c_str());
    } else {
        constexpr int kBar = 24;
        const int filled = total_ > 0 ? (int)(kBar * done / total_) : kBar;
        std::string bar(filled, '#');
        bar.resize(kBar, '.');
        // \r to the line start, \033[K clears what a longer earlier line left.
        std::fprintf(stderr, "\r%s [%s] %ld/%ld %s, %.2f %s/s, ETA %s\033[K", label_.c_str(), bar.c_str(), done, total_,
                     unit_.c_str(), rate, unit_.c_str(), clock_text(eta).c_str());
        drawn_ = true;
    }
    std::fflush(stderr);
}

void Progress::finish() {
    if (finished_) return;
    finished_ = true;
    if (terminal_ && drawn_) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
    }
}

}  // namespace sparsifiner
