#include "cli/output_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sparsifiner {

namespace {

std::string folder_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The permissions a plain fopen would give (0666 minus the umask); mkstemp uses 0600. Reading
// the umask means setting it: done once, before any threads write files.
mode_t default_file_mode() {
    static const mode_t mode = [] {
        const mode_t mask = umask(022);
        umask(mask);
        return static_cast<mode_t>(0666 & ~mask);
    }();
    return mode;
}

std::string errno_text(int error) { return std::strerror(error); }

}  // namespace

// A device, pipe or socket (/dev/null, /dev/stdout, a FIFO) is written in place: renaming a
// temporary file over it would replace the device node.
static bool is_special(const std::string& path) {
    struct stat info;
    return stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode) && !S_ISDIR(info.st_mode);
}

// A symbolic link to a file: the file is replaced, the link kept.
static std::string resolve_link(const std::string& path) {
    struct stat info;
    if (lstat(path.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) return path;
    char* real = realpath(path.c_str(), nullptr);
    if (real == nullptr) return path;
    std::string resolved = real;
    std::free(real);
    return resolved;
}

void output_check_writable(const std::string& path) {
    if (path.empty()) throw OutputError("output path is empty");
    if (path.back() == '/') throw OutputError(path + ": is a folder, not a file name");
    struct stat info;
    if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode))
        throw OutputError(path + ": is a folder, not a file name");
    if (is_special(path)) {
        if (access(path.c_str(), W_OK) != 0) throw OutputError(path + ": cannot write: " + errno_text(errno));
        return;
    }
    const std::string folder = folder_of(path);
    if (stat(folder.c_str(), &info) != 0)
        throw OutputError(path + ": cannot write: folder " + folder + ": " + errno_text(errno));
    if (!S_ISDIR(info.st_mode)) throw OutputError(path + ": cannot write: " + folder + " is not a folder");
    if (access(folder.c_str(), W_OK | X_OK) != 0)
        throw OutputError(path + ": cannot write in folder " + folder + ": " + errno_text(errno));
}

void output_folder_prepare(const std::string& folder) {
    if (folder.empty()) throw OutputError("output folder name is empty");
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    struct stat info;
    if (stat(folder.c_str(), &info) != 0)
        throw OutputError(folder + ": cannot create the folder: " + (error ? error.message() : errno_text(errno)));
    if (!S_ISDIR(info.st_mode)) throw OutputError(folder + ": exists and is not a folder");
    if (access(folder.c_str(), W_OK | X_OK) != 0) throw OutputError(folder + ": folder not writable: " + errno_text(errno));
}

OutputFile::OutputFile(const std::string& path) : path_(path) {
    output_check_writable(path);
    if (is_special(path)) {
        file_ = std::fopen(path.c_str(), "wb");
        if (file_ == nullptr) throw OutputError(path + ": cannot write: " + errno_text(errno));
        return;
    }
    const std::string target = resolve_link(path);
    target_path_ = target;
    // A dot name so that a leftover (after SIGKILL) is hidden and obviously not the result.
    std::string pattern = folder_of(target) + "/." + base_of(target) + ".tmpXXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fd = mkstemp(name.data());
    if (fd < 0) throw OutputError(path + ": cannot create a file in " + folder_of(path) + ": " + errno_text(errno));
    temp_path_ = name.data();
    fchmod(fd, default_file_mode());
    file_ = fdopen(fd, "wb");
    if (file_ == nullptr) {
        const int error = errno;
        close(fd);
        unlink(temp_path_.c_str());
        throw OutputError(path + ": cannot write: " + errno_text(error));
    }
}

OutputFile::~OutputFile() { discard(); }

void OutputFile::write(const void* data, size_t size) {
    if (file_ != nullptr && size > 0) std::fwrite(data, 1, size, file_);
}

void OutputFile::discard() {
    if (file_ != nullptr) {
        std::fclose(file_);
        file_ = nullptr;
    }
    if (!temp_path_.empty()) {
        unlink(temp_path_.c_str());
        temp_path_.clear();
    }
}

void OutputFile::commit() {
    if (file_ == nullptr) throw OutputError(path_ + ": internal error: the file was already closed");
    int error = 0;
    errno = 0;
    if (std::fflush(file_) != 0 || std::ferror(file_) != 0) error = errno ? errno : EIO;
    // fsync: a full disk on a network or delayed-allocation filesystem may only say so here.
    if (error == 0 && fsync(fileno(file_)) != 0 && errno != EINVAL && errno != EROFS) error = errno;
    const int closed = std::fclose(file_);
    file_ = nullptr;
    if (error == 0 && closed != 0) error = errno ? errno : EIO;
    if (error == 0 && !temp_path_.empty() && std::rename(temp_path_.c_str(), target_path_.c_str()) != 0) error = errno;
    if (error != 0) {
        if (!temp_path_.empty()) unlink(temp_path_.c_str());
        temp_path_.clear();
        throw OutputError(path_ + ": cannot write: " + errno_text(error));
    }
    temp_path_.clear();
}

void output_file_write(const std::string& path, const std::string& bytes) {
    OutputFile file(path);
    file.write(bytes);
    file.commit();
}

void output_finish_stdout() {
    errno = 0;
    const bool failed = std::fflush(stdout) != 0 || std::ferror(stdout) != 0;
    if (failed) {
        // An error from an earlier printf is sticky but its errno is gone: say what is known.
        throw OutputError(std::string("stdout: write failed") + (errno ? ": " + errno_text(errno) : " (disk full?)"));
    }
}

}  // namespace sparsifiner
