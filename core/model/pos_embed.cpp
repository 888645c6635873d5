#include "core/model/pos_embed.h"

#include <cstddef>

#include "image/resample.h"

namespace sparsifiner {

std::vector<float> pos_embed_resize(const std::vector<float>& pos_embed, int extra, int old_grid,
                                    int new_grid, int D) {
    if (old_grid == new_grid) return pos_embed;
    const int old_cells = old_grid * old_grid, new_cells = new_grid * new_grid;
    // The resampler works on planar images: one plane per embedding channel.
    std::vector<float> planar_in((std::size_t)D * old_cells), planar_out((std::size_t)D * new_cells);
    for (int p = 0; p < old_cells; p++)
        for (int c = 0; c < D; c++) planar_in[(std::size_t)c * old_cells + p] = pos_embed[(std::size_t)(extra + p) * D + c];
    resample_bicubic_f32(planar_in.data(), D, old_grid, old_grid, planar_out.data(), new_grid, new_grid);

    std::vector<float> out((std::size_t)(extra + new_cells) * D);
    for (int i = 0; i < extra * D; i++) out[i] = pos_embed[i];
    for (int p = 0; p < new_cells; p++)
        for (int c = 0; c < D; c++) out[(std::size_t)(extra + p) * D + c] = planar_out[(std::size_t)c * new_cells + p];
    return out;
}

}  // namespace sparsifiner
