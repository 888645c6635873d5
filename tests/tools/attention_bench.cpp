// Micro-benchmark of the attention core: dense (oneDNN, core/kernels/attention_dense.h) against the sparse
// ELL kernel at several keep rates, and the connectivity predictor alone, for DeiT-S geometry
// (H = 6, d = 64), B = 1, N = 197, 577, 1025, 4097.
//   attention_bench [--json] [--reps R] [--threads T] [--isa portable|avx2|avx512] [--max-n N]
//                   [--sizes 197,577,...] [--no-predictor] [--predictor-only] [--clock wall|cpu]
//                   [--dense-ab]
// --dense-ab times only the two dense cores, oneDNN (three primitives, N x N scores) and fused
// (core/kernels/fused_attention.h, --isa picks its kernel), alternating one call of each per repetition so
// that both see the same load; it prints the medians and their ratio (fused / oneDNN) per N.
// --predictor-only skips the dense and sparse kernels (for profiling the predictor alone).
// Each row also prints the fastest sample of the sparse keep-0.25 and predictor runs (min): on a
// shared machine the median moves with the load, the minimum much less.
// Timed: one call of the kernel on data already in memory (warm-up call excluded); not timed:
// building the random qkv, masks and weights, and the predictor's construction (done at load).
// Sparse masks are random (k uniformly drawn keys per row): the kernel's cost does not depend on
// which keys are kept beyond cache effects. Predictor weights are random with K = floor(N / 6),
// c = 32, proj_back_n uniform in [-0.05, 0.05] and threshold 0.035 so that about 30% of the basis
// survives, the density of a trained one.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include <nlohmann/json.hpp>

#include "build_info.h"
#include "core/kernels/attention_dense.h"
#include "core/kernels/fused_attention.h"
#include "core/platform/cpu_info.h"
#include "core/masks/mask_patterns.h"
#include "core/masks/mask_predictor.h"
#include "core/kernels/sparse_attention.h"
#include "core/platform/threading.h"
#include "core/platform/timing.h"

using namespace sparsifiner;

namespace {

// --clock cpu: the calling thread's CPU time instead of wall time. Only meaningful with
// --threads 1 (every kernel then runs on the calling thread); on a shared, overloaded machine it
// leaves out the time the thread spent descheduled, though not the cache pollution.
bool use_thread_clock = false;

double clock_seconds() {
    if (!use_thread_clock) return seconds_now();
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <typename F>
std::vector<double> time_ms(int reps, F&& run) {
    run();  // warm-up: first-touch pages, oneDNN primitive creation
    std::vector<double> samples;
    for (int r = 0; r < reps; r++) {
        const double start = clock_seconds();
        run();
        samples.push_back((clock_seconds() - start) * 1e3);
    }
    return samples;
}

std::vector<int32_t> random_mask(int rows, int N, int k, std::mt19937& rng) {
    std::vector<int32_t> index(static_cast<size_t>(rows) * k), all(N);
    for (int r = 0; r < rows; r++) {
        std::iota(all.begin(), all.end(), 0);
        for (int t = 0; t < k; t++) std::swap(all[t], all[t + rng() % (N - t)]);
        std::sort(all.begin(), all.begin() + k);
        std::copy(all.begin(), all.begin() + k, index.begin() + static_cast<size_t>(r) * k);
    }
    return index;
}

int parse_positive(const char* flag, const char* text) {
    char* end = nullptr;
    long v = std::strtol(text, &end, 10);
    if (end == text || *end || v < 1 || v > 100000) {
        std::fprintf(stderr, "attention_bench: %s needs a positive integer, got '%s'\n", flag, text);
        std::exit(2);
    }
    return static_cast<int>(v);
}

// One call of each core per repetition, in alternating order, after one warm-up call of each.
int dense_ab(const std::vector<int>& sizes, int reps, Isa isa, bool json) {
    const int H = 6, d = 64, D = H * d, B = 1;
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    nlohmann::json records = nlohmann::json::array();
    if (!json) std::printf("%6s %11s %11s %8s\n", "N", "oneDNN ms", "fused ms", "ratio");
    for (int N : sizes) {
        std::vector<float> qkv(static_cast<size_t>(B) * N * 3 * D), out(static_cast<size_t>(B) * N * D);
        std::vector<float> scores(static_cast<size_t>(B) * H * N * N);
        for (auto& v : qkv) v = normal(rng);
        DenseAttention dense(H, d);
        auto run_dense = [&] { dense.forward_onednn(qkv.data(), scores.data(), out.data(), B, N); };
        auto run_fused = [&] { fused_attention_forward_isa(isa, qkv.data(), out.data(), nullptr, B, N, H, d); };
        run_dense();
        run_fused();
        std::vector<double> dense_ms, fused_ms;
        for (int r = 0; r < reps; r++) {
            for (int turn = 0; turn < 2; turn++) {
                const bool fused_turn = (turn == 0) == (r % 2 == 0);
                const double start = clock_seconds();
                if (fused_turn) run_fused(); else run_dense();
                (fused_turn ? fused_ms : dense_ms).push_back((clock_seconds() - start) * 1e3);
            }
        }
        const double a = quantile(dense_ms, 0.5), b = quantile(fused_ms, 0.5);
        records.push_back({{"N", N}, {"onednn_median_ms", a}, {"fused_median_ms", b}, {"ratio", b / a},
                           {"onednn_samples_ms", dense_ms}, {"fused_samples_ms", fused_ms}});
        if (!json) std::printf("%6d %11.3f %11.3f %8.3f\n", N, a, b, b / a);
        std::fflush(stdout);
    }
    if (json)
        std::printf("%s\n", nlohmann::json({{"tool", "attention_bench --dense-ab"},
                                            {"commit", SPARSIFINER_GIT_COMMIT},
                                            {"cpu", cpu_model_name()},
                                            {"threads", threads_get()},
                                            {"fused_isa", isa_name(isa)},
                                            {"repetitions", reps},
                                            {"H", H}, {"d", d}, {"B", B},
                                            {"results", records}}).dump(2).c_str());
    else
        std::printf("ratio = fused / oneDNN (medians of %d alternated calls), fused isa %s, threads %d\n", reps,
                    isa_name(isa), threads_get());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    bool json = false;
    int reps = 7, threads = 1, max_n = 4097;
    bool predictor_on = true, predictor_only = false, ab = false;
    std::vector<int> sizes = {197, 577, 1025, 4097};
    Isa isa = isa_best();
    for (int i = 1; i < argc; i++) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--json") {
            json = true;
        } else if (arg == "--reps" && has_value) {
            reps = parse_positive("--reps", argv[++i]);
        } else if (arg == "--threads" && has_value) {
            threads = parse_positive("--threads", argv[++i]);
        } else if (arg == "--clock" && has_value) {
            const std::string name = argv[++i];
            if (name != "wall" && name != "cpu") {
                std::fprintf(stderr, "attention_bench: unknown --clock '%s' (wall, cpu)\n", name.c_str());
                return 2;
            }
            use_thread_clock = name == "cpu";
        } else if (arg == "--no-predictor") {
            predictor_on = false;
        } else if (arg == "--dense-ab") {
            ab = true;
        } else if (arg == "--predictor-only") {
            predictor_only = true;
        } else if (arg == "--sizes" && has_value) {
            sizes.clear();
            std::string list = argv[++i];
            for (size_t start = 0; start <= list.size();) {
                size_t comma = list.find(',', start);
                if (comma == std::string::npos) comma = list.size();
                const std::string item = list.substr(start, comma - start);
                const int n = parse_positive("--sizes", item.c_str());
                if (n < 2) {
                    std::fprintf(stderr, "attention_bench: --sizes needs token counts >= 2, got %d\n", n);
                    return 2;
                }
                sizes.push_back(n);
                start = comma + 1;
            }
        } else if (arg == "--max-n" && has_value) {
            max_n = parse_positive("--max-n", argv[++i]);
        } else if (arg == "--isa" && has_value) {
            const std::string name = argv[++i];
            if (name == "portable") isa = Isa::portable;
            else if (name == "avx2") isa = Isa::avx2;
            else if (name == "avx512") isa = Isa::avx512;
            else {
                std::fprintf(stderr, "attention_bench: unknown --isa '%s' (portable, avx2, avx512)\n", name.c_str());
                return 2;
            }
            if (!isa_supported(isa)) {
                std::fprintf(stderr, "attention_bench: this CPU cannot run the %s kernel\n", name.c_str());
                return 2;
            }
        } else {
            std::fprintf(stderr,
                         "usage: attention_bench [--json] [--reps R] [--threads T] [--isa portable|avx2|avx512] "
                         "[--max-n N] [--sizes N,N,...] [--no-predictor] [--predictor-only] [--clock wall|cpu] "
                         "[--dense-ab]\n");
            return 2;
        }
    }
    threads_set(threads);
    if (ab) return dense_ab(sizes, reps, isa, json);

    const int H = 6, d = 64, D = H * d, B = 1, c = 32;
    const float keeps[] = {0.5f, 0.25f, 0.1f};
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    nlohmann::json records = nlohmann::json::array();
    if (!json)
        std::printf("%6s %9s | %9s %6s | %9s %6s | %9s %6s | %9s %8s || %9s %9s %6s %9s\n", "N", "dense ms", "keep.5 ms", "ratio",
                    "keep.25ms", "ratio", "keep.1 ms", "ratio", "pred ms", "pred/save", "min dense", "min .25", "ratio", "min pred");

    for (int N : sizes) {
        if (N > max_n) continue;
        std::vector<float> qkv(static_cast<size_t>(B) * N * 3 * D), out(static_cast<size_t>(B) * N * D);
        for (auto& v : qkv) v = normal(rng);
        nlohmann::json record = {{"N", N}, {"H", H}, {"d", d}, {"B", B}};

        std::vector<double> dense_samples = {0.0};
        if (!predictor_only) {
            std::vector<float> scores(static_cast<size_t>(B) * H * N * N);
            DenseAttention dense(H, d);
            dense_samples = time_ms(reps, [&] { dense.forward_onednn(qkv.data(), scores.data(), out.data(), B, N); });
        }
        const double dense_ms = quantile(dense_samples, 0.5), dense_min_ms = quantile(dense_samples, 0.0);
        record["dense"] = {{"median_ms", dense_ms}, {"samples_ms", dense_samples}};

        double sparse_ms[3] = {0, 0, 0}, sparse_min_ms[3] = {0, 0, 0};
        nlohmann::json sparse = nlohmann::json::array();
        for (int e = 0; e < 3; e++) {
            const int k = mask_budget(keeps[e], N);
            if (predictor_only) continue;
            auto mask = random_mask(B * H * (N - 1), N, k, rng);
            auto samples = time_ms(reps, [&] {
                sparse_attention_forward_isa(isa, qkv.data(), mask.data(), out.data(), nullptr, B, N, H, d, k);
            });
            sparse_ms[e] = quantile(samples, 0.5);
            sparse_min_ms[e] = quantile(samples, 0.0);
            sparse.push_back({{"keep_rate", keeps[e]}, {"k", k}, {"median_ms", sparse_ms[e]},
                              {"ratio_to_dense", sparse_ms[e] / dense_ms}, {"samples_ms", samples}});
        }
        record["sparse"] = sparse;

        // The predictor at keep 0.25, random weights of a trained predictor's shape and density.
        double pred_ms = -1, pred_min_ms = -1;
        const double saved_ms = dense_ms - sparse_ms[1];
        if (predictor_on) {
            const int K = N / 6;
            auto fill = [&](size_t n, float scale) {
                std::vector<float> v(n);
                for (auto& x : v) x = normal(rng) * scale;
                return v;
            };
            auto wq = fill(c * d, 0.125f), bq = fill(c, 0.1f), wk = fill(c * d, 0.125f), bk = fill(c, 0.1f);
            auto pn = fill(static_cast<size_t>(N) * K, 0.05f);
            std::vector<float> pbn(static_cast<size_t>(N) * K);
            std::uniform_real_distribution<float> uniform(-0.05f, 0.05f);
            for (auto& x : pbn) x = uniform(rng);
            MaskPredictor predictor(wq.data(), bq.data(), wk.data(), bk.data(), pn.data(), pbn.data(), H, d, c, N, K,
                                    0.035f, 8);
            const int budget = mask_budget(0.25f, N);
            std::vector<int32_t> key_index(static_cast<size_t>(B) * H * (N - 1) * budget);
            PredictorCounts counts;
            auto pred_samples = time_ms(reps, [&] {
                predictor.predict(qkv.data(), B, N, budget, nullptr, key_index.data(), &counts);
            });
            pred_ms = quantile(pred_samples, 0.5);
            pred_min_ms = quantile(pred_samples, 0.0);
            record["predictor"] = {{"K", K},
                                   {"c", c},
                                   {"basis_density", double(predictor.basis_nnz()) / (double(N) * K)},
                                   {"macs", counts.total()},
                                   {"median_ms", pred_ms},
                                   {"fraction_of_saving_at_keep_0.25", saved_ms > 0 ? pred_ms / saved_ms : -1.0},
                                   {"samples_ms", pred_samples}};
        }
        records.push_back(record);
        if (!json)
            std::printf("%6d %9.3f | %9.3f %6.3f | %9.3f %6.3f | %9.3f %6.3f | %9.3f %8.3f || %9.3f %9.3f %6.3f %9.3f\n",
                        N, dense_ms,
                        sparse_ms[0], sparse_ms[0] / dense_ms, sparse_ms[1], sparse_ms[1] / dense_ms, sparse_ms[2],
                        sparse_ms[2] / dense_ms, pred_ms, predictor_on && saved_ms > 0 ? pred_ms / saved_ms : -1.0, dense_min_ms,
                        sparse_min_ms[1], sparse_min_ms[1] / dense_min_ms, pred_min_ms);
    }

    if (json) {
        nlohmann::json document = {
            {"tool", "attention_bench"},
            {"commit", SPARSIFINER_GIT_COMMIT},
            {"build", SPARSIFINER_BUILD_FLAVOUR},
            {"cpu", cpu_model_name()},
            {"threads", threads},
            {"sparse_isa", isa_name(isa)},
            {"repetitions", reps},
            {"clock", use_thread_clock ? "thread cpu time" : "wall"},
            {"timed", "one call per sample after one warm-up call; inputs, masks and predictor construction excluded"},
            {"predictor_weights", "random: K = floor(N/6), c = 32, basis_coef_topk 8, proj_back_n ~ U(-0.05, 0.05), "
                                  "threshold 0.035 (about 30% of the basis kept), budget ceil(0.25 N)"},
            {"results", records}};
        std::printf("%s\n", document.dump(2).c_str());
    } else {
        std::printf("ratio = sparse / dense; pred/save = predictor time / (dense - sparse at keep 0.25); "
                    "after ||: fastest samples. "
                    "threads %d, sparse isa %s, median of %d, %s clock\n", threads, isa_name(isa), reps,
                    use_thread_clock ? "thread cpu" : "wall");
    }
    return 0;
}
