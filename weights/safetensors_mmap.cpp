// Opening a safetensors file: the file is READ into an anonymous mapping, not mapped. A file
// mapping dies with SIGBUS (no message, no cleanup) when another process truncates the file
// while it is in use; a read sees the size it sees, and a short read is a clear error. The copy
// costs one pass over the file (a 350 MB DeiT-B: a fraction of a second from the page cache).
#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weights/error_text.h"
#include "weights/safetensors.h"

namespace sparsifiner {

namespace {

[[noreturn]] void throw_file_error(const std::string& path, const std::string& problem) {
    throw WeightFileError(printable_name(path, 4096) + ": " + problem);
}

// Closes the descriptor on every path out of open().
struct FileDescriptor {
    int fd = -1;
    ~FileDescriptor() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    FileDescriptor file;
    // O_NONBLOCK: opening a FIFO by mistake must not wait for a writer; it is rejected below.
    file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (file.fd < 0) throw_file_error(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat info;
    if (::fstat(file.fd, &info) != 0) throw_file_error(path, std::string("cannot stat: ") + std::strerror(errno));
    if (S_ISDIR(info.st_mode)) throw_file_error(path, "is a directory, not a safetensors file");
    if (!S_ISREG(info.st_mode)) throw_file_error(path, "is not a regular file");
    size_t size = static_cast<size_t>(info.st_size);
    if (size < 8) return parse(nullptr, size, path);  // throws "too short"; mmap of 0 bytes would fail

    void* mapping = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) throw_file_error(path, std::string("cannot allocate: ") + std::strerror(errno));
    try {
        uint8_t* bytes = static_cast<uint8_t*>(mapping);
        size_t done = 0;
        while (done < size) {
            const ssize_t got = ::pread(file.fd, bytes + done, size - done, static_cast<off_t>(done));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) throw_file_error(path, std::string("cannot read: ") + std::strerror(errno));
            if (got == 0)
                throw_file_error(path, "file shrank while being read (" + std::to_string(done) + " of " +
                                           std::to_string(size) + " bytes): truncated by another program?");
            done += static_cast<size_t>(got);
        }
        ::mprotect(mapping, size, PROT_READ);
        SafetensorsFile parsed = parse(static_cast<const uint8_t*>(mapping), size, path);
        parsed.mapping_ = mapping;
        parsed.mapping_size_ = size;
        return parsed;
    } catch (...) {
        ::munmap(mapping, size);
        throw;
    }
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : label_(std::move(other.label_)),
      metadata_(std::move(other.metadata_)),
      tensors_(std::move(other.tensors_)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_size_(std::exchange(other.mapping_size_, 0)),
      unindexed_bytes_(std::exchange(other.unindexed_bytes_, 0)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
    if (this != &other) {
        if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
        label_ = std::move(other.label_);
        metadata_ = std::move(other.metadata_);
        tensors_ = std::move(other.tensors_);
        mapping_ = std::exchange(other.mapping_, nullptr);
        mapping_size_ = std::exchange(other.mapping_size_, 0);
        unindexed_bytes_ = std::exchange(other.unindexed_bytes_, 0);
    }
    return *this;
}

SafetensorsFile::~SafetensorsFile() {
    if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

}  // namespace sparsifiner
