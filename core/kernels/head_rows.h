#pragma once
// The work split of the attention cores: every image b, head h and chunk of `rows` query rows is
// one item, run as work(b, h, row_begin, row_end) on the OpenMP threads. The fused dense cores use
// chunks of their tile size; the sparse cores size chunks so that each thread gets a few items.
namespace sparsifiner {

template <class Work>
void for_each_head_rows(int B, int H, int N, int rows, Work&& work) {
    const int chunks = (N + rows - 1) / rows;
#pragma omp parallel for collapse(3) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int c = 0; c < chunks; c++) {
                const int begin = c * rows;
                work(b, h, begin, begin + rows < N ? begin + rows : N);
            }
}

}  // namespace sparsifiner
