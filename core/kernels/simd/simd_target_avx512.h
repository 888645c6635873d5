// Opens the AVX-512 (F, BW, VL, DQ) region of a per-ISA kernel file: every function defined from
// here to the end of the file may use those instructions. Include after every standard header
// and before the vocabulary and kernel templates. No include guard: a pragma switch, included once.
// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation, which trips
// -Wmaybe-uninitialized on every inlined intrinsic: a known false positive, silenced here only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
