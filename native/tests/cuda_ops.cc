// The CUDA op harness: for every op, validate the kernel against its CPU reference on
// random inputs, then time it. Opens libcrossrank_cuda.so like the addon does.
//
//   crossrank_cuda_ops [path/to/libcrossrank_cuda.so] [--bench]
//
// Prints one line per case and exits non-zero on any mismatch. Needs a GPU.
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crossrank/score_head.h"
#include "cuda/api.h"

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
  double max_diff = 0;
  for (int64_t i = 0; i < c.rows; ++i) max_diff = std::fmax(max_diff, std::fabs(double(want[i]) - got[i]));
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

}  // namespace

int main(int argc, char** argv) {
  std::string path = "libcrossrank_cuda.so";
  bool bench = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--bench") == 0) bench = true;
    else path = argv[i];
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
  const Case cases[] = {
      {1, 1, Activation::kSigmoid, 0},      {1000, 1, Activation::kSigmoid, 0},
      {100000, 1, Activation::kIdentity, 0}, {1000, 2, Activation::kSoftmax, 1},
      {4097, 2, Activation::kSoftmax, 0},    {1000, 5, Activation::kSoftmax, 3},
  };
  int failures = 0;
  for (const Case& c : cases) failures += CheckScoreHead(score_head, c, bench);
  std::printf("%d case(s) failed\n", failures);
  return failures ? 1 : 0;
}
