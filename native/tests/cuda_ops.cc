// The CUDA op harness: for every op, validate the kernel against its CPU reference on
// random inputs, then time it. Opens libcrossrank_cuda.so like the addon does.
//
//   crossrank_cuda_ops [path/to/libcrossrank_cuda.so] [--bench] [--quick] [--no-grid-limits]
//   crossrank_cuda_ops [path/to/libcrossrank_cuda.so] --profile-kernels
//
// Prints one line per case and exits non-zero on any mismatch; --bench adds each op's time
// and a table of kernel times at a forward pass's shapes. Needs a GPU, or the CPU emulation
// of the backend (libcrossrank_cuda_emu.so, native/cuda/emu), for which --quick swaps the
// longest attention case for a shorter one, shrinks the timed shapes and skips the model
// modes' timing tables (emulated times say nothing about a GPU). --no-grid-limits skips the
// cases that exist only to pass a grid's limits (65,537 sequences; the race checker, which
// runs blocks one after another, gains nothing from them and takes minutes over them).
// --profile-kernels only launches the kernels a profiler should look at (the own linear kernel
// at bert-base's feed-forward shapes, both tensor-core attention kernels at 100 x 128 tokens,
// decoder attention at qwen3-0.6b's heads, residual LayerNorm), each twice, nothing checked:
// run under `ncu -k regex:...` it says what bounds each (scripts/device/gpu-check.sh).
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crossrank/encoder.h"
#include "crossrank/score_head.h"
#include "crossrank/thread_pool.h"
#include "cuda/api.h"
#include "reference/encoder_ops.h"
#include "tests/cuda_harness.h"

using namespace crossrank;

namespace {

struct Case {
  int64_t rows;
  int32_t num_labels;
  Activation activation;
  int32_t positive_index;
};

int CheckScoreHead(crossrank_cuda_score_head_fn fn, const Case& c, bool bench) {
  std::mt19937 rng(1234 + c.rows);
  std::normal_distribution<float> normal(0.f, 4.f);
  std::vector<float> logits(size_t(c.rows) * c.num_labels);
  for (float& x : logits) x = normal(rng);
  if (c.rows > 4) logits[3] = INFINITY, logits[4] = -INFINITY;
  std::vector<float> want(c.rows), got(c.rows);
  ScoreHeadParams p{c.rows, c.num_labels, c.activation, c.positive_index};
  if (!ScoreHeadReference(p, logits.data(), want.data()).ok()) return 1;
  char message[512] = {0};
  int rc = fn(0, logits.data(), c.rows, c.num_labels, int(c.activation), c.positive_index, got.data(), message,
              sizeof message);
  if (rc) {
    std::printf("score_head rows=%lld labels=%d act=%d: error %d %s\n", (long long)c.rows, c.num_labels,
                int(c.activation), rc, message);
    return 1;
  }
  const double max_diff = MaxDiff(want, got);
  const bool ok = max_diff <= 1e-6;
  double ms = 0;
  if (bench) {
    const int iters = 50;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) fn(0, logits.data(), c.rows, c.num_labels, int(c.activation), c.positive_index,
                                      got.data(), message, sizeof message);
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
  }
  std::printf("score_head rows=%-8lld labels=%d act=%d  max_abs_diff=%.3g  %s%s\n", (long long)c.rows, c.num_labels,
              int(c.activation), max_diff, ok ? "OK" : "MISMATCH",
              bench ? (" " + std::to_string(ms) + " ms/call incl. transfers").c_str() : "");
  return ok ? 0 : 1;
}

int CheckLinear(crossrank_cuda_op_linear_fn fn, int m, int n, int k, bool gelu, bool bias = true) {
  std::mt19937 rng(m * 31 + n);
  Linear layer;
  layer.out = n, layer.in = k;
  layer.weight = RandomHalf(size_t(n) * k, 1.0f / std::sqrt(float(k)), rng);
  layer.bias = RandomHalf(n, 0.1f, rng);
  if (!bias) std::fill(layer.bias.begin(), layer.bias.end(), 0.0f);  // the reference's "none"
  std::vector<float> x = RandomHalf(size_t(m) * k, 1.0f, rng), want(size_t(m) * n), got(size_t(m) * n);
  ThreadPool pool(1);
  ref::LinearForward(pool, x.data(), m, layer, want.data());
  if (gelu) ref::Gelu(pool, want.data(), want.size());
  char message[512] = {0};
  const int rc = fn(x.data(), layer.weight.data(), bias ? layer.bias.data() : nullptr, got.data(), m, n, k, gelu,
                    message, sizeof message);
  return Report(gelu ? "linear+gelu" : bias ? "linear" : "linear-nobias",
                std::to_string(m) + "x" + std::to_string(k) + " -> " + std::to_string(n),
                MaxDiff(want, got), ElementTolerance(2e-2), rc, message);
}

int CheckLayerNorm(crossrank_cuda_op_add_layernorm_fn fn, int rows, int dim) {
  std::mt19937 rng(rows + dim);
  LayerNormParams p;
  p.gamma = RandomHalf(dim, 0.1f, rng);
  for (float& g : p.gamma) g += 1.0f;
  p.beta = RandomHalf(dim, 0.1f, rng);
  std::vector<float> x = RandomHalf(size_t(rows) * dim, 1.0f, rng), res = RandomHalf(size_t(rows) * dim, 1.0f, rng);
  std::vector<float> want = x, got = x;
  ThreadPool pool(1);
  ref::AddLayerNorm(pool, want.data(), res.data(), rows, p, 1e-12f);
  char message[512] = {0};
  const int rc = fn(got.data(), res.data(), p.gamma.data(), p.beta.data(), rows, dim, 1e-12f, message, sizeof message);
  // Outputs stay below 8 in magnitude, so fp16 rounding of the result is at most 2e-3 (the
  // inputs are fp16 values already): 4e-3 leaves room for it and catches a variance divided
  // by dim - 1 at the narrower rows (bf16: 8 times both).
  return Report("add_layernorm", std::to_string(rows) + "x" + std::to_string(dim), MaxDiff(want, got),
                ElementTolerance(4e-3), rc, message);
}

int CheckAttention(crossrank_cuda_op_attention_fn fn, std::vector<int> lengths, int heads, int head_dim) {
  std::mt19937 rng(heads * 7 + head_dim);
  std::vector<int> cu{0};
  for (int l : lengths) cu.push_back(cu.back() + l);
  const size_t n = size_t(cu.back()) * heads * head_dim;
  std::vector<float> q = RandomHalf(n, 1.0f, rng), k = RandomHalf(n, 1.0f, rng), v = RandomHalf(n, 1.0f, rng);
  std::vector<float> want(n), got(n);
  ThreadPool pool(1);
  ref::PackedAttention(pool, q.data(), k.data(), v.data(), cu.data(), int(lengths.size()), heads, head_dim, want.data());
  char message[512] = {0};
  const int rc = fn(q.data(), k.data(), v.data(), cu.data(), int(lengths.size()), heads, head_dim, got.data(), message,
                    sizeof message);
  std::string shape = std::to_string(lengths.size()) + " seqs, " + std::to_string(heads) + "x" + std::to_string(head_dim);
  return Report("attention", shape, MaxDiff(want, got), ElementTolerance(1e-2), rc, message);
}

// Kernel times of the encoder's ops at the shapes of 100 pairs x 128 tokens (12,800 rows)
// for bert-base and minilm-l6 widths, and attention at 128 and 512 tokens: where the time of
// a forward pass goes, and each linear kernel's TFLOP/s.
void BenchOps(crossrank_cuda_op_bench_fn bench, bool quick, const std::vector<const char*>& gemms) {
  static const char* const kOpNames[] = {"linear", "attention", "add_layernorm", "dec_attention"};
  const int rows = quick ? 128 : 12800, seqs = quick ? 2 : 100;
  std::printf("-- op timings (kernel only, zero-filled inputs%s)\n", quick ? ", --quick shapes" : "");
  std::printf("| op | shape | kernel | ms | TFLOP/s |\n|---|---|---|---:|---:|\n");
  char message[512] = {0};
  auto row = [&](int op, std::vector<int> shape, const char* kernel, const std::string& label, double flops) {
    double ms = 0;
    const int rc = bench(op, shape.data(), quick ? 1 : 20, &ms, message, sizeof message);
    if (rc) std::printf("| %s | %s | %s | error %d %s | |\n", kOpNames[op],
                        label.c_str(), kernel, rc, message);
    else std::printf("| %s | %s | %s | %.3f | %.1f |\n", kOpNames[op],
                     label.c_str(), kernel, ms, flops / (ms * 1e-3) / 1e12);
  };
  const int linear[][4] = {{768, 768, 0}, {3072, 768, 1}, {768, 3072, 0}, {384, 384, 0}, {1536, 384, 1}, {384, 1536, 0}};
  auto linear_row = [&](const int (&l)[4], const char* kernel) {
    const std::string label = std::to_string(rows) + "x" + std::to_string(l[1]) + " -> " + std::to_string(l[0]) +
                              (l[2] ? " +gelu" : "");
    row(0, {rows, l[0], l[1], l[2]}, kernel, label, 2.0 * rows * l[0] * l[1]);
  };
  for (const char* gemm : gemms) {
    setenv("CROSSRANK_CUDA_GEMM", gemm, 1);
    for (const auto& l : linear) linear_row(l, gemm);
    // cuBLASLt's own GELU epilogue (tanh approximation, CROSSRANK_CUDA_GELU=tanh) instead of the
    // exact GELU's pass after the product: what the pass costs.
    if (std::strcmp(gemm, "cublaslt") != 0) continue;
    setenv("CROSSRANK_CUDA_GELU", "tanh", 1);
    for (const auto& l : linear) {
      if (l[2]) linear_row(l, "cublaslt, tanh gelu");
    }
    unsetenv("CROSSRANK_CUDA_GELU");
  }
  unsetenv("CROSSRANK_CUDA_GEMM");
  for (const char* kernel : {"tensor-core", "mma", "warp"}) {
    setenv("CROSSRANK_CUDA_ATTENTION", kernel, 1);
    for (const auto& a : {std::vector<int>{seqs, 128, 12, 64}, std::vector<int>{seqs, 512, 12, 64}, std::vector<int>{seqs, 128, 12, 32}}) {
      const int len = quick ? a[1] / 8 : a[1];
      const std::string label = std::to_string(seqs) + " x " + std::to_string(len) + " tokens, " + std::to_string(a[2]) +
                                "x" + std::to_string(a[3]);
      row(1, {seqs, len, a[2], a[3]}, kernel, label, 4.0 * seqs * len * len * a[2] * a[3]);
    }
  }
  // Decoder attention at qwen3-0.6b's heads: one query's 100 documents of 100 tokens after its
  // 70-token prefix (the shared-prefix pass), and the same 170-token prompts unshared.
  for (const char* kernel : {"tensor-core", "mma", "warp"}) {
    setenv("CROSSRANK_CUDA_ATTENTION", kernel, 1);
    for (const auto& a : {std::vector<int>{seqs, 100, 70, 16, 8, 128}, std::vector<int>{seqs, 170, 0, 16, 8, 128}}) {
      const int len = quick ? a[1] / 10 : a[1], prefix = quick ? a[2] / 10 : a[2];
      const std::string label = std::to_string(seqs) + " x " + std::to_string(len) + " tokens after " +
                                std::to_string(prefix) + ", " + std::to_string(a[3]) + "/" + std::to_string(a[4]) +
                                "x" + std::to_string(a[5]);
      // Causal: token i scores prefix + i + 1 keys; 4 flops per key and dimension (q k, p v).
      const double keys = double(seqs) * (double(len) * prefix + double(len) * (len + 1) / 2);
      row(3, {seqs, len, prefix, a[3], a[4], a[5]}, kernel, label, 4.0 * keys * a[3] * a[5]);
    }
  }
  unsetenv("CROSSRANK_CUDA_ATTENTION");
  row(2, {rows, 768}, "fused", std::to_string(rows) + "x768", 0);
}

// One launch (after a warm-up) of each kernel worth a profiler's look, at a forward pass's shapes.
int ProfileKernels(crossrank_cuda_op_bench_fn bench) {
  struct Launch {
    const char* gemm;       // CROSSRANK_CUDA_GEMM, or null
    const char* attention;  // CROSSRANK_CUDA_ATTENTION, or null
    int op;
    std::vector<int> shape;
  };
  const Launch launches[] = {
      {"pipelined", nullptr, 0, {12800, 3072, 768, 1}},  // bert-base feed-forward in, + GELU
      {"pipelined", nullptr, 0, {12800, 768, 3072, 0}},  // and out
      {nullptr, "tensor-core", 1, {100, 128, 12, 64}},
      {nullptr, "mma", 1, {100, 128, 12, 64}},
      {nullptr, "mma", 3, {100, 100, 70, 16, 8, 128}},
      {nullptr, nullptr, 2, {12800, 768}},
  };
  int failures = 0;
  for (const Launch& l : launches) {
    if (l.gemm) setenv("CROSSRANK_CUDA_GEMM", l.gemm, 1);
    if (l.attention) setenv("CROSSRANK_CUDA_ATTENTION", l.attention, 1);
    char message[512] = {0};
    double ms = 0;
    const int rc = bench(l.op, l.shape.data(), 1, &ms, message, sizeof message);
    std::printf("op %d (%s): %s\n", l.op, l.gemm ? l.gemm : l.attention ? l.attention : "default", rc ? message : "launched");
    failures += rc != 0;
    unsetenv("CROSSRANK_CUDA_GEMM");
    unsetenv("CROSSRANK_CUDA_ATTENTION");
  }
  return failures ? 1 : 0;
}

}  // namespace

int RunModel(const std::string& dir, const std::string& dump, const std::string& element, bool parity_only, bool quick);
int RunDecoder(const std::string& dir, const std::string& prompts, const std::string& dump, int cpu_docs,
               const std::string& element, int max_queries, bool quick);

int main(int argc, char** argv) {
  // Line by line even into a pipe (the device check tees every step): a step stopped at its
  // time limit keeps what it printed instead of losing its last buffer.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string path = "libcrossrank_cuda.so", model, dump, qwen3, prompts, element;  // element: each mode's default
  int cpu_docs = 10, max_queries = 0;
  bool bench = false, quick = false, parity_only = false, grid_limits = true, profile_kernels = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--bench") == 0) bench = true;
    else if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--parity-only") == 0) parity_only = true;
    else if (std::strcmp(argv[i], "--no-grid-limits") == 0) grid_limits = false;
    else if (std::strcmp(argv[i], "--profile-kernels") == 0) profile_kernels = true;
    else if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
    else if (std::strcmp(argv[i], "--dump") == 0 && i + 1 < argc) dump = argv[++i];
    else if (std::strcmp(argv[i], "--qwen3") == 0 && i + 1 < argc) qwen3 = argv[++i];
    else if (std::strcmp(argv[i], "--prompts") == 0 && i + 1 < argc) prompts = argv[++i];
    else if (std::strcmp(argv[i], "--cpu-docs") == 0 && i + 1 < argc) cpu_docs = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--element") == 0 && i + 1 < argc) element = argv[++i];
    else if (std::strcmp(argv[i], "--queries") == 0 && i + 1 < argc) max_queries = std::atoi(argv[++i]);
    else path = argv[i];
  }
  if (!model.empty() || !qwen3.empty()) {
    setenv("CROSSRANK_CUDA_LIBRARY", path.c_str(), 1);
    return model.empty() ? RunDecoder(qwen3, prompts, dump, cpu_docs, element.empty() ? "bf16" : element, max_queries, quick)
                         : RunModel(model, dump, element.empty() ? "fp16" : element, parity_only, quick);
  }
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::printf("cannot open %s: %s\n", path.c_str(), dlerror());
    return 2;
  }
  auto probe = reinterpret_cast<crossrank_cuda_probe_fn>(dlsym(lib, "crossrank_cuda_probe"));
  auto score_head = reinterpret_cast<crossrank_cuda_score_head_fn>(dlsym(lib, "crossrank_cuda_score_head"));
  if (!probe || !score_head) {
    std::printf("%s lacks crossrank entry points\n", path.c_str());
    return 2;
  }
  crossrank_cuda_probe_result info;
  probe(&info);
  if (info.code != CROSSRANK_CUDA_OK) {
    std::printf("CUDA unavailable: %s\n", info.message);
    return 3;
  }
  std::printf("device 0: %s (sm_%d%d)\n", info.devices[0].name, info.devices[0].major, info.devices[0].minor);
  if (profile_kernels) {
    auto op_bench = reinterpret_cast<crossrank_cuda_op_bench_fn>(dlsym(lib, "crossrank_cuda_op_bench"));
    if (!op_bench) return std::printf("%s lacks crossrank_cuda_op_bench\n", path.c_str()), 2;
    return ProfileKernels(op_bench);
  }
  const Case cases[] = {
      {1, 1, Activation::kSigmoid, 0},      {1000, 1, Activation::kSigmoid, 0},
      {100000, 1, Activation::kIdentity, 0}, {1000, 2, Activation::kSoftmax, 1},
      {4097, 2, Activation::kSoftmax, 0},    {1000, 5, Activation::kSoftmax, 3},
  };
  int failures = 0;
  for (const Case& c : cases) failures += CheckScoreHead(score_head, c, bench);

  auto linear = reinterpret_cast<crossrank_cuda_op_linear_fn>(dlsym(lib, "crossrank_cuda_op_linear"));
  auto layernorm = reinterpret_cast<crossrank_cuda_op_add_layernorm_fn>(dlsym(lib, "crossrank_cuda_op_add_layernorm"));
  auto attention = reinterpret_cast<crossrank_cuda_op_attention_fn>(dlsym(lib, "crossrank_cuda_op_attention"));
  if (!linear || !layernorm || !attention) {
    std::printf("%s lacks the op test entry points\n", path.c_str());
    return 2;
  }
  // Every tensor-core kernel: the pipelined 128 x 128 one (default), the wide candidate, the
  // first 64 x 64 one, and cuBLASLt where it opens (a candidate too); in fp16 (encoders'
  // default) and bf16 (decoders' default).
  std::vector<const char*> gemms = {"pipelined", "wide", "wmma64"};
  auto cublaslt_info = reinterpret_cast<crossrank_cuda_cublaslt_info_fn>(dlsym(lib, "crossrank_cuda_cublaslt_info"));
  char lt_info[512] = {0};
  if (cublaslt_info && cublaslt_info(lt_info, sizeof lt_info)) gemms.push_back("cublaslt");
  std::printf("-- cuBLASLt: %s\n", cublaslt_info ? lt_info : "(library without the entry point)");
  for (const char* element : {"fp16", "bf16"}) {
    setenv("CROSSRANK_CUDA_OP_ELEMENT", element, 1);
    for (const char* gemm : gemms) {
      setenv("CROSSRANK_CUDA_GEMM", gemm, 1);
      std::printf("-- linear kernels: %s, %s\n", gemm, element);
      failures += CheckLinear(linear, 37, 384, 384, false);
      failures += CheckLinear(linear, 100, 1536, 384, true);
      failures += CheckLinear(linear, 130, 768, 3072, false);
      // A decoder's fused q/k/v (the emulation's slowest case: once, in fp16, under --quick).
      if (!quick || std::strcmp(element, "fp16") == 0) failures += CheckLinear(linear, 1000, 4096, 1024, false);
      failures += CheckLinear(linear, 257, 1040, 1056, true);  // K % 32 == 16, ragged tiles
      failures += CheckLinear(linear, 37, 312, 312, false);    // TinyBERT-L4 widths: multiples of 8, not 16
      failures += CheckLinear(linear, 70, 1200, 312, true);    // K % 32 == 24
      failures += CheckLinear(linear, 5, 1, 384, false);       // classifier: the fallback kernel
      failures += CheckLinear(linear, 64, 50, 40, false);      // N, K not multiples of 8: the 64 x 64 kernel
      failures += CheckLinear(linear, 9, 20, 13, true);        // odd K: the 64 x 64 kernel's element-wise edges
      failures += CheckLinear(linear, 33, 256, 128, false, false);  // no bias (a decoder's layers)
      if (std::strcmp(gemm, "cublaslt") == 0) {
        // Its GELU epilogue (CROSSRANK_CUDA_GELU=tanh): the tanh approximation, against the
        // exact GELU's reference with the same tolerance.
        setenv("CROSSRANK_CUDA_GELU", "tanh", 1);
        std::printf("-- linear kernels: cublaslt with its tanh GELU epilogue, %s\n", element);
        failures += CheckLinear(linear, 100, 1536, 384, true);
        failures += CheckLinear(linear, 257, 1040, 1056, true);
        unsetenv("CROSSRANK_CUDA_GELU");
      }
    }
  }
  unsetenv("CROSSRANK_CUDA_GEMM");
  // The encoder's other ops, in fp16 (its default) and bf16 (on request).
  for (const char* element : {"fp16", "bf16"}) {
    setenv("CROSSRANK_CUDA_OP_ELEMENT", element, 1);
    std::printf("-- residual LayerNorm: %s\n", element);
    failures += CheckLayerNorm(layernorm, 50, 384);
    failures += CheckLayerNorm(layernorm, 3, 1024);
    failures += CheckLayerNorm(layernorm, 13, 768);  // a last block of 5 rows (warp kernel: 8 per block)
    failures += CheckLayerNorm(layernorm, 5, 100);   // rows not a multiple of 32
    failures += CheckLayerNorm(layernorm, 3, 1056);  // wider than the warp kernel: the block kernel
    // Every attention kernel: WMMA tensor cores (default for head dims 16/32/64/128), the
    // one-pass mma.sync candidate, and one warp per query row. Lengths straddle the tensor-core
    // kernels' 64-row and 32/64-key tiles.
    for (const char* kernel : {"tensor-core", "mma", "warp"}) {
      setenv("CROSSRANK_CUDA_ATTENTION", kernel, 1);
      std::printf("-- attention kernel: %s, %s\n", kernel, element);
      if (quick) failures += CheckAttention(attention, {1, 7, 33, 100, 130}, 4, 32);
      else failures += CheckAttention(attention, {1, 7, 33, 100, 512}, 12, 32);
      failures += CheckAttention(attention, {64, 130}, 12, 64);
      failures += CheckAttention(attention, {5, 40}, 2, 16);
      failures += CheckAttention(attention, {1, 31, 32, 33, 97}, 2, 128);
      failures += CheckAttention(attention, {17, 65}, 3, 24);  // no tensor-core variant: the warp kernel
      // More sequences than a grid's z extent (65,535): launched in chunks (once, in fp16). The
      // two tensor-core kernels share their chunk loop (LaunchBySequenceChunks): checked once,
      // as this case is the slowest of all on the emulation (65,537 blocks), under ASan above all.
      if (grid_limits && std::strcmp(element, "fp16") == 0 && std::strcmp(kernel, "mma") != 0) {
        std::vector<int> many(65537, 1);
        many.back() = 3;
        failures += CheckAttention(attention, many, 1, 16);
      }
    }
  }
  unsetenv("CROSSRANK_CUDA_ATTENTION");
  for (const char* element : {"fp16", "bf16"}) {
    setenv("CROSSRANK_CUDA_OP_ELEMENT", element, 1);
    std::printf("-- decoder ops: %s\n", element);
    failures += CheckDecoderOps(lib, grid_limits && std::strcmp(element, "fp16") == 0);
  }
  unsetenv("CROSSRANK_CUDA_OP_ELEMENT");
  if (bench) {
    auto op_bench = reinterpret_cast<crossrank_cuda_op_bench_fn>(dlsym(lib, "crossrank_cuda_op_bench"));
    if (op_bench) BenchOps(op_bench, quick, gemms);
    else std::printf("%s lacks crossrank_cuda_op_bench: no op timings\n", path.c_str());
  }
  std::printf("%d case(s) failed\n", failures);
  return failures ? 1 : 0;
}
