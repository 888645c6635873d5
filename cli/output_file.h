#pragma once
// Every file the tool writes goes through here, so that a failed write never leaves a partial
// file behind and never passes silently: the bytes go to a temporary file in the target's folder
// (same filesystem, so the final rename is atomic), every write and the close are checked, and
// only a complete file is renamed to its name. A file that is never committed is removed.
// Devices and pipes (/dev/null, /dev/stdout) are written in place, never replaced.
//
// Errors are OutputError: one line "<path>: <problem>"; commands map it to exit 4
// (cli/EXIT_CODES.md: "an output file that cannot be written").
#include <cstdio>
#include <stdexcept>
#include <string>

namespace sparsifiner {

struct OutputError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class OutputFile {
public:
    // Creates the temporary file beside path. Throws OutputError when the folder is missing or
    // not writable, or path names a folder.
    explicit OutputFile(const std::string& path);
    // Not committed: the temporary file is removed.
    ~OutputFile();
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    // The stream to write to (a plain stdio stream: fprintf, fwrite). Errors are sticky and
    // found by commit().
    std::FILE* stream() { return file_; }
    void write(const void* data, size_t size);
    void write(const std::string& text) { write(text.data(), text.size()); }

    // Flushes, checks every write, syncs, closes and renames to the final name. Throws
    // OutputError (the temporary file is removed) when anything failed.
    void commit();
    // Gives up: closes and removes the temporary file.
    void discard();

    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::string target_path_;  // path, or the file a symbolic link at path points to
    std::string temp_path_;    // empty when writing in place (a device or pipe)
    std::FILE* file_ = nullptr;
};

// The whole content in one go: OutputFile + write + commit.
void output_file_write(const std::string& path, const std::string& bytes);

// Early check, before any long work: the folder of path exists and is writable, and path is not
// a folder. Throws OutputError naming path and the problem. (It cannot foresee a full disk:
// OutputFile::commit still checks.)
void output_check_writable(const std::string& path);

// For a folder of outputs (--dump-activations DIR): creates it with its parents when missing and
// checks that it is a writable folder. Throws OutputError.
void output_folder_prepare(const std::string& folder);

// Before a command returns success: flushes stdout and checks it for errors (a closed pipe, a
// full disk, /dev/full). Throws OutputError("stdout: ...").
void output_finish_stdout();

}  // namespace sparsifiner
