#include "cli/npy_writer.h"

#include "cli/output_file.h"

namespace sparsifiner {

static void npy_write(const std::string& path, const char* descr, const void* data, size_t item_size,
                      const std::vector<int64_t>& shape) {
    std::string dims;
    size_t count = 1;
    for (int64_t s : shape) {
        dims += std::to_string(s) + ", ";
        count *= (size_t)s;
    }
    if (shape.size() > 1) dims.resize(dims.size() - 1);  // "(2, 3)" but "(5,)"
    std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" +
                         dims + "), }";
    // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of
    // 64 and ended by a newline, as the format asks.
    size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';

    OutputFile file(path);
    const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                        (unsigned char)(header.size() & 0xff),
                                        (unsigned char)(header.size() >> 8)};
    file.write(preamble, sizeof preamble);
    file.write(header);
    file.write(data, item_size * count);
    file.commit();
}

void npy_write_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
    npy_write(path, "<f4", data, sizeof(float), shape);
}

void npy_write_i32(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape) {
    npy_write(path, "<i4", data, sizeof(int32_t), shape);
}

}  // namespace sparsifiner
