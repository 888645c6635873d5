// The roofline profile holds ops against (issue 15): the bandwidth probe counts exactly the bytes
// it reads, an op is held against the level its working set fits in and against the slower of
// its two limits, and the work model of a parent op is its parts' work summed.
#include <doctest/doctest.h>

#include "core/kernels/sparse_attention.h"

#include <cmath>

#include "core/model/op_work.h"
#include "core/model/roofline.h"
#include "core/platform/memory_bandwidth.h"
#include "core/platform/threading.h"

using namespace sparsifiner;

TEST_CASE("bandwidth probe: bytes_read counts every float read, once per sweep") {
    const int saved = threads_get();
    // Sizes off the kernels' 128-float step, so that the tails are read too; both thread counts
    // split the buffer differently.
    for (int threads : {1, 2}) {
        threads_set(threads);
        for (size_t floats : {size_t(1), size_t(1000), size_t(70001)}) {
            const int sweeps = 3;
            const BandwidthSample s = read_bandwidth_measure(floats * sizeof(float) + 3, sweeps, 2);
            CAPTURE(threads);
            CAPTURE(floats);
            CHECK(s.buffer_bytes == floats * sizeof(float));  // whole floats
            CHECK(s.sweeps == sweeps);
            CHECK(s.threads == threads);
            CHECK(s.bytes_read == (double)s.buffer_bytes * sweeps);
            // The buffer holds ones: the checksum is the number of floats actually read.
            CHECK(s.checksum == (double)floats * sweeps);
            CHECK(s.best_seconds > 0);
            CHECK(std::isfinite(s.gb_per_s));
            CHECK(s.gb_per_s > 0);
            CHECK(s.gb_per_s == doctest::Approx(s.bytes_read / s.best_seconds / 1e9).epsilon(1e-12));
        }
    }
    threads_set(saved);
}

TEST_CASE("cache sizes grow level by level") {
    const CacheSizes sizes = cache_sizes();
    CHECK(sizes.l1d > 0);
    CHECK(sizes.l2 > sizes.l1d);
    CHECK(sizes.l3 >= sizes.l2);
}

TEST_CASE("op_bound: the level the working set fits in, and the slower of FMA and memory") {
    Roofline r;
    r.fma_gmacs_per_s = 50;
    r.levels = {{"L1", 1000, 500, 200}, {"L2", 100000, 50000, 100}, {"DRAM", INFINITY, 1e6, 20}};
    OpWork w;
    w.macs = 1e9;      // 20 ms at the peak
    w.bytes = 1e9;     // 5 ms from L1, 10 ms from L2, 50 ms from DRAM
    w.footprint = 1000;
    OpBound b = op_bound(r, w);
    CHECK(b.level->name == "L1");
    CHECK(b.fma_bound());
    CHECK(b.seconds() == doctest::Approx(0.020));
    w.footprint = 1001;
    b = op_bound(r, w);
    CHECK(b.level->name == "L2");
    CHECK(b.seconds() == doctest::Approx(0.020));
    w.footprint = 1e12;
    b = op_bound(r, w);
    CHECK(b.level->name == "DRAM");
    CHECK_FALSE(b.fma_bound());
    CHECK(b.memory_seconds == doctest::Approx(0.050));
    CHECK(b.seconds() == doctest::Approx(0.050));
    // Nothing to do: no time, and not FMA-bound.
    b = op_bound(r, OpWork{});
    CHECK(b.seconds() == 0);
    CHECK_FALSE(b.fma_bound());
}

TEST_CASE("op work: a learned mask is its parts summed; a sparse attention gathers 4 bytes per MAC") {
    DeitConfig c;
    c.embed_dim = 384, c.num_heads = 6, c.mlp_hidden = 1536, c.patch_size = 16, c.in_chans = 3, c.num_classes = 1000;
    c.predictor_c = 32, c.predictor_N = 577, c.predictor_K = 96, c.basis_coef_topk = 8;
    BlockStats s;
    s.mask = MaskSource::learned;
    s.tokens_in = s.tokens_out = 577;
    s.kept_keys = 145;
    s.predictor.basis_nnz = 20000;
    BlockMacs m;
    m.qk = m.pv = 384.0 * (577 + 576 * 145);
    m.predictor_products = {1e6, 1e6, 2e6, 3e6, 4e6};
    const int B = 2;
    OpWork parts;
    for (SubOp sub : {SubOp::alive_slice, SubOp::qc, SubOp::kc, SubOp::kl, SubOp::cheap, SubOp::coef_topk,
                      SubOp::coef_basis, SubOp::key_topk})
        parts += sub_op_work(sub, c, s, m, B);
    const OpWork mask = block_op_work(BlockOp::mask, c, s, m, B);
    CHECK(mask.macs == parts.macs);
    CHECK(mask.macs == B * 11e6);
    CHECK(mask.elements == parts.elements);
    CHECK(mask.bytes == parts.bytes);
    // Not pruned: nothing to slice.
    CHECK(sub_op_work(SubOp::alive_slice, c, s, m, B).bytes == 0);
    const OpWork keys = sub_op_work(SubOp::key_topk, c, s, m, B);
    CHECK(keys.elements == (double)B * 6 * 576 * 577);
    CHECK(keys.footprint == 4.0 * 577);
    // coef x basis: the bytes are the basis floats the kernel read (zeros too when the basis is
    // stored dense), not 4 per MAC; the working set is the stored basis.
    s.predictor.coef_basis_reads = 2LL * 6 * 576 * 8 * 577;
    s.predictor.basis_bytes = 4LL * 96 * 577;
    const OpWork basis = sub_op_work(SubOp::coef_basis, c, s, m, B);
    CHECK(basis.macs == B * 4e6);
    CHECK(basis.bytes == 4.0 * s.predictor.coef_basis_reads);
    CHECK(basis.footprint == 4.0 * 96 * 577);
    const OpWork attention = block_op_work(BlockOp::attention, c, s, m, B);
    CHECK(attention.macs == B * (m.qk + m.pv));
    CHECK(attention.bytes == 4 * attention.macs + 4.0 * B * 6 * 576 * 145);
    // Its working set is a tile of K rows and the block's scores (the kernel's blocking), not the
    // head's K and V: at 4097 tokens the head (2 MB) is past L2, a tile and a block's scores are not.
    CHECK(attention.footprint == 4.0 * (kSparseTileKeys * 64 + kSparseBlockRows * 145));
    const OpWork ln = block_op_work(BlockOp::ln1, c, s, m, B);
    CHECK(ln.bytes == 8.0 * B * 577 * 384);
    CHECK(block_op_work(BlockOp::prune, c, s, m, B).bytes == 0);  // tokens_out == tokens_in
}
