#pragma once
// One thread count for everything: OpenMP's, which oneDNN (built on OpenMP here) follows too.

namespace sparsifiner {

void threads_set(int count);  // count >= 1
int threads_get();

}  // namespace sparsifiner
