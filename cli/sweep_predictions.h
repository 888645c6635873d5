#pragma once
// sweep --predictions FILE: one CSV row per image and setting with its top-1 class, so that a
// sweep can be checked image by image against another evaluation (PyTorch's, say).
//   index,name,label,setting,top1
// index = the image's position in the data source (before --limit and --shard, so the files of
// all shards concatenate), name = its file (or <idx file>#<i>), label = the true class or empty
// when unknown, setting = the row's "setting" label in the sweep JSON ("dense", "learned@0.25").
#include <memory>
#include <string>

#include "cli/output_file.h"

namespace sparsifiner {

class PredictionsCsv {
public:
    // Starts a temporary file beside path and writes the header; close() renames it to path, and
    // an instance destroyed without close() leaves nothing. Throws CommandError(kExitRuntimeError).
    explicit PredictionsCsv(const std::string& path);
    ~PredictionsCsv();
    PredictionsCsv(const PredictionsCsv&) = delete;
    PredictionsCsv& operator=(const PredictionsCsv&) = delete;

    void add(long index, const std::string& name, int label, const std::string& setting, int top1);
    // Flushes and closes; a failed write is CommandError(kExitRuntimeError).
    void close();

private:
    std::unique_ptr<OutputFile> file_;
};

}  // namespace sparsifiner
