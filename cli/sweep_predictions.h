#pragma once
// sweep --predictions FILE: one CSV row per image and setting with its top-1 class, so that a
// sweep can be checked image by image against another evaluation (PyTorch's, say).
//   index,name,label,setting,top1
// index = the image's position in the data source (before --limit and --shard, so the files of
// all shards concatenate), name = its file (or <idx file>#<i>), label = the true class or empty
// when unknown, setting = the row's "setting" label in the sweep JSON ("dense", "learned@0.25").
#include <cstdio>
#include <string>

namespace sparsifiner {

class PredictionsCsv {
public:
    // Creates (truncates) path and writes the header. Throws CommandError(kExitRuntimeError).
    explicit PredictionsCsv(const std::string& path);
    ~PredictionsCsv();
    PredictionsCsv(const PredictionsCsv&) = delete;
    PredictionsCsv& operator=(const PredictionsCsv&) = delete;

    void add(long index, const std::string& name, int label, const std::string& setting, int top1);
    // Flushes and closes; a failed write is CommandError(kExitRuntimeError).
    void close();

private:
    std::string path_;
    std::FILE* file_ = nullptr;
};

}  // namespace sparsifiner
