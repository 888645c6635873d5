// The predictor's transpose (core/kernels/transpose.h): every path the CPU has against the
// definition, on shapes with and without whole 8 x 8 blocks and with padded strides.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/kernels/transpose.h"

using namespace sparsifiner;

TEST_CASE("transpose_rows: dst[a][i] = src[i][a] on every path, edges and strides included") {
    for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512}) {
        if (!isa_supported(isa)) continue;
        CAPTURE(std::string(isa_name(isa)));
        for (int rows : {1, 7, 8, 9, 16, 23, 577})
            for (int cols : {1, 5, 8, 13, 32}) {
                const long long src_ld = cols + 3, dst_ld = rows + 5;
                std::vector<float> src(static_cast<size_t>(rows * src_ld)), dst(static_cast<size_t>(cols * dst_ld), -1.f);
                for (size_t e = 0; e < src.size(); e++) src[e] = static_cast<float>(e) * 0.5f + 1.f;
                transpose_rows(isa, src.data(), rows, cols, src_ld, dst.data(), dst_ld);
                int wrong = 0, touched_padding = 0;
                for (int a = 0; a < cols; a++)
                    for (long long i = 0; i < dst_ld; i++) {
                        const float got = dst[a * dst_ld + i];
                        if (i < rows) wrong += got != src[i * src_ld + a];
                        else touched_padding += got != -1.f;
                    }
                CAPTURE(rows);
                CAPTURE(cols);
                CHECK(wrong == 0);
                CHECK(touched_padding == 0);
            }
    }
}
