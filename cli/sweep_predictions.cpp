#include "cli/sweep_predictions.h"


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

PredictionsCsv::PredictionsCsv(const std::string& path) {
    try {
        file_ = std::make_unique<OutputFile>(path);
    } catch (const OutputError& e) {
        throw CommandError(kExitRuntimeError, e.what());
    }
    std::fputs("index,name,label,setting,top1\n", file_->stream());
}

PredictionsCsv::~PredictionsCsv() = default;

void PredictionsCsv::add(long index, const std::string& name, int label, const std::string& setting, int top1) {
    const std::string label_text = label >= 0 ? std::to_string(label) : "";
    std::fprintf(file_->stream(), "%ld,%s,%s,%s,%d\n", index, csv_field(name).c_str(), label_text.c_str(),
                 csv_field(setting).c_str(), top1);
}

void PredictionsCsv::close() {
    if (!file_) return;
    std::unique_ptr<OutputFile> file = std::move(file_);
    try {
        file->commit();
    } catch (const OutputError& e) {
        throw CommandError(kExitRuntimeError, e.what());
    }
}

}  // namespace sparsifiner
