#include "core/platform/threading.h"

#include <omp.h>

namespace sparsifiner {

void threads_set(int count) { omp_set_num_threads(count < 1 ? 1 : count); }
int threads_get() { return omp_get_max_threads(); }

}  // namespace sparsifiner
