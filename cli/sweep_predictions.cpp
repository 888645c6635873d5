#include "cli/sweep_predictions.h"

#include <cerrno>
#include <cstring>

#include "cli/common.h"

namespace sparsifiner {

namespace {

// RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled.
std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    return quoted + "\"";
}

}  // namespace

PredictionsCsv::PredictionsCsv(const std::string& path) : path_(path) {
    file_ = std::fopen(path.c_str(), "w");
    if (file_ == nullptr) throw CommandError(kExitRuntimeError, path + ": cannot write: " + std::strerror(errno));
    std::fputs("index,name,label,setting,top1\n", file_);
}

PredictionsCsv::~PredictionsCsv() {
    if (file_ != nullptr) std::fclose(file_);
}

void PredictionsCsv::add(long index, const std::string& name, int label, const std::string& setting, int top1) {
    const std::string label_text = label >= 0 ? std::to_string(label) : "";
    std::fprintf(file_, "%ld,%s,%s,%s,%d\n", index, csv_field(name).c_str(), label_text.c_str(),
                 csv_field(setting).c_str(), top1);
}

void PredictionsCsv::close() {
    if (file_ == nullptr) return;
    const bool failed = std::ferror(file_) != 0;
    const int closed = std::fclose(file_);
    file_ = nullptr;
    if (failed || closed != 0) throw CommandError(kExitRuntimeError, path_ + ": write failed");
}

}  // namespace sparsifiner
