// Opens the AVX2 + FMA region of a per-ISA kernel file: every function defined from here to the
// end of the file may use AVX2 and FMA instructions. Include after every standard header (those
// must stay compiled for any x86-64) and before the vocabulary and kernel templates.
// No include guard on purpose: it is a pragma switch, included once per translation unit, last.
#pragma GCC target("avx2,fma")
