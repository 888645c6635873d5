#pragma once
#include <vector>

namespace sparsifiner {

// pos_embed [extra + old_grid^2, D] for another patch grid (SPEC 1): the extra tokens' rows are
// kept, the grid part is resized with antialiased bicubic as timm's resample_abs_pos_embed does.
std::vector<float> pos_embed_resize(const std::vector<float>& pos_embed, int extra, int old_grid,
                                    int new_grid, int D);

}  // namespace sparsifiner
