// The decoder's CUDA ops against their CPU references (native/reference/decoder_ops.cc):
// add + RMSNorm, q/k norm + rotary embeddings, causal grouped-query attention over prefixes,
// SwiGLU, the answer head. Part of the op harness (crossrank_cuda_ops).
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crossrank/thread_pool.h"
#include "cuda/api.h"
#include "reference/decoder_ops.h"
#include "tests/cuda_harness.h"

namespace crossrank {
namespace {

std::vector<float> Gamma(size_t n, std::mt19937& rng) {
  std::vector<float> g = RandomHalf(n, 0.1f, rng);
  for (float& x : g) x += 1.0f;
  return g;
}

int CheckAddRmsNorm(crossrank_cuda_op_add_rmsnorm_fn fn, int rows, int dim, bool with_delta) {
  std::mt19937 rng(rows * 3 + dim);
  std::vector<float> x = RandomHalf(size_t(rows) * dim, 2.0f, rng), delta = RandomHalf(size_t(rows) * dim, 1.0f, rng);
  const std::vector<float> gamma = Gamma(dim, rng);
  std::vector<float> want_x = x, want(x.size()), got_x = x, got(x.size());
  for (size_t i = 0; i < x.size() && with_delta; ++i) want_x[i] += delta[i];
  want = want_x;
  for (int r = 0; r < rows; ++r) ref::RmsNorm(want.data() + size_t(r) * dim, dim, gamma.data(), 1e-6f);
  char message[512] = {0};
  const int rc = fn(got_x.data(), with_delta ? delta.data() : nullptr, gamma.data(), rows, dim, 1e-6f, got.data(), message,
                    sizeof message);
  const std::string shape = std::to_string(rows) + "x" + std::to_string(dim) + (with_delta ? " +delta" : "");
  return Report("add_rmsnorm", shape, std::max(MaxDiff(want, got), MaxDiff(want_x, got_x)), ElementTolerance(2e-2), rc, message);
}

int CheckQkNormRope(crossrank_cuda_op_qk_norm_rope_fn fn, int tokens, int heads, int kv_heads, int head_dim) {
  std::mt19937 rng(tokens + heads * 5 + head_dim);
  const size_t width = size_t(heads + 2 * kv_heads) * head_dim;
  std::vector<float> qkv = RandomHalf(tokens * width, 1.0f, rng);
  const std::vector<float> q_norm = Gamma(head_dim, rng), k_norm = Gamma(head_dim, rng);
  std::vector<int> positions(tokens);
  std::uniform_int_distribution<int> pos(0, 4000);
  for (int& p : positions) p = pos(rng);
  const double theta = 1e6;
  std::vector<float> want_q(size_t(tokens) * heads * head_dim), want_k(size_t(tokens) * kv_heads * head_dim);
  std::vector<float> want_v(want_k.size());
  for (int t = 0; t < tokens; ++t) {
    const float* row = qkv.data() + t * width;
    for (int j = 0; j < heads + 2 * kv_heads; ++j) {
      float* dst = j < heads ? &want_q[(size_t(t) * heads + j) * head_dim]
                   : j < heads + kv_heads ? &want_k[(size_t(t) * kv_heads + j - heads) * head_dim]
                                          : &want_v[(size_t(t) * kv_heads + j - heads - kv_heads) * head_dim];
      std::copy_n(row + size_t(j) * head_dim, head_dim, dst);
      if (j >= heads + kv_heads) continue;
      ref::RmsNorm(dst, head_dim, j < heads ? q_norm.data() : k_norm.data(), 1e-6f);
      ref::Rope(dst, head_dim, positions[t], theta);
    }
  }
  std::vector<float> q(want_q.size()), k(want_k.size()), v(want_v.size());
  char message[512] = {0};
  const int rc = fn(qkv.data(), positions.data(), q_norm.data(), k_norm.data(), tokens, heads, kv_heads, head_dim, 1e-6f,
                    theta, q.data(), k.data(), v.data(), message, sizeof message);
  const double diff = std::max({MaxDiff(want_q, q), MaxDiff(want_k, k), MaxDiff(want_v, v)});
  return Report("qk_norm_rope", std::to_string(tokens) + " tok, " + std::to_string(heads) + "/" + std::to_string(kv_heads) +
                                    "x" + std::to_string(head_dim), diff, ElementTolerance(2e-2), rc, message);
}

// Sequences with and without prefixes; each checked by the reference over its own cache
// (prefix keys/values followed by its own).
int CheckDecoderAttention(crossrank_cuda_op_decoder_attention_fn fn, std::vector<int> prefix_lengths,
                          std::vector<int> lengths, std::vector<int> prefix_of, int heads, int kv_heads, int head_dim) {
  std::mt19937 rng(heads * 11 + head_dim + int(lengths.size()));
  std::vector<int> cu{0}, pcu{0};
  for (int l : lengths) cu.push_back(cu.back() + l);
  for (int l : prefix_lengths) pcu.push_back(pcu.back() + l);
  const size_t kvw = size_t(kv_heads) * head_dim, qw = size_t(heads) * head_dim;
  std::vector<float> q = RandomHalf(cu.back() * qw, 1.0f, rng), k = RandomHalf(cu.back() * kvw, 1.0f, rng);
  std::vector<float> v = RandomHalf(cu.back() * kvw, 1.0f, rng);
  std::vector<float> pk = RandomHalf(std::max(pcu.back(), 1) * kvw, 1.0f, rng), pv = RandomHalf(std::max(pcu.back(), 1) * kvw, 1.0f, rng);
  std::vector<float> want(q.size()), got(q.size());
  ThreadPool pool(2);
  for (size_t s = 0; s < lengths.size(); ++s) {
    std::vector<float> kc, vc;
    const int p = prefix_of[s];
    if (p >= 0) {
      kc.assign(pk.begin() + pcu[p] * kvw, pk.begin() + pcu[p + 1] * kvw);
      vc.assign(pv.begin() + pcu[p] * kvw, pv.begin() + pcu[p + 1] * kvw);
    }
    const size_t start = kc.size() / kvw;
    kc.insert(kc.end(), k.begin() + cu[s] * kvw, k.begin() + cu[s + 1] * kvw);
    vc.insert(vc.end(), v.begin() + cu[s] * kvw, v.begin() + cu[s + 1] * kvw);
    ref::CausalAttention(pool, q.data() + cu[s] * qw, kc.data(), vc.data(), size_t(lengths[s]), start, heads, kv_heads,
                         head_dim, want.data() + cu[s] * qw);
  }
  char message[512] = {0};
  const int rc = fn(q.data(), k.data(), v.data(), cu.data(), int(lengths.size()), pk.data(), pv.data(), pcu.data(),
                    int(prefix_lengths.size()), prefix_of.data(), heads, kv_heads, head_dim, got.data(), message,
                    sizeof message);
  const std::string shape = std::to_string(lengths.size()) + " seqs/" + std::to_string(prefix_lengths.size()) + " prefixes, " +
                            std::to_string(heads) + "/" + std::to_string(kv_heads) + "x" + std::to_string(head_dim);
  return Report("dec_attention", shape, MaxDiff(want, got), ElementTolerance(1e-2), rc, message);
}

int CheckSwiGlu(crossrank_cuda_op_swiglu_fn fn, int tokens, int inter) {
  std::mt19937 rng(tokens + inter);
  std::vector<float> gu = RandomHalf(size_t(tokens) * 2 * inter, 1.5f, rng), want(size_t(tokens) * inter), got(want.size());
  for (int t = 0; t < tokens; ++t) {
    const float* row = gu.data() + size_t(t) * 2 * inter;
    ref::SwiGlu(row, row + inter, inter, want.data() + size_t(t) * inter);
  }
  char message[512] = {0};
  const int rc = fn(gu.data(), tokens, inter, got.data(), message, sizeof message);
  return Report("swiglu", std::to_string(tokens) + "x" + std::to_string(inter), MaxDiff(want, got), ElementTolerance(1e-2), rc, message);
}

int CheckAnswerHead(crossrank_cuda_op_answer_head_fn fn, int rows, int hidden, std::vector<int> last) {
  std::mt19937 rng(rows + hidden);
  std::vector<float> x = RandomHalf(size_t(rows) * hidden, 2.0f, rng), delta = RandomHalf(size_t(rows) * hidden, 1.0f, rng);
  const std::vector<float> norm = Gamma(hidden, rng), answer = RandomHalf(2 * size_t(hidden), 0.5f, rng);
  std::vector<float> want(last.size() * 2), got(want.size());
  for (size_t s = 0; s < last.size(); ++s) {
    std::vector<float> v(hidden);
    for (int i = 0; i < hidden; ++i) v[i] = x[size_t(last[s]) * hidden + i] + delta[size_t(last[s]) * hidden + i];
    ref::RmsNorm(v.data(), hidden, norm.data(), 1e-6f);
    for (int a = 0; a < 2; ++a) {
      double dot = 0;
      for (int i = 0; i < hidden; ++i) dot += double(v[i]) * answer[size_t(a) * hidden + i];
      want[2 * s + a] = float(dot);
    }
  }
  char message[512] = {0};
  const int rc = fn(x.data(), delta.data(), last.data(), int(last.size()), rows, norm.data(), answer.data(), hidden, 2, 1e-6f,
                    got.data(), message, sizeof message);
  return Report("answer_head", std::to_string(last.size()) + " seqs x" + std::to_string(hidden), MaxDiff(want, got), 1e-3, rc,
                message);
}

}  // namespace

int CheckDecoderOps(void* lib, bool many_sequences) {
  auto rms = reinterpret_cast<crossrank_cuda_op_add_rmsnorm_fn>(dlsym(lib, "crossrank_cuda_op_add_rmsnorm"));
  auto rope = reinterpret_cast<crossrank_cuda_op_qk_norm_rope_fn>(dlsym(lib, "crossrank_cuda_op_qk_norm_rope"));
  auto attention = reinterpret_cast<crossrank_cuda_op_decoder_attention_fn>(dlsym(lib, "crossrank_cuda_op_decoder_attention"));
  auto swiglu = reinterpret_cast<crossrank_cuda_op_swiglu_fn>(dlsym(lib, "crossrank_cuda_op_swiglu"));
  auto head = reinterpret_cast<crossrank_cuda_op_answer_head_fn>(dlsym(lib, "crossrank_cuda_op_answer_head"));
  if (!rms || !rope || !attention || !swiglu || !head) {
    std::printf("the library lacks the decoder op entry points\n");
    return 1;
  }
  int failures = 0;
  failures += CheckAddRmsNorm(rms, 37, 1024, true);
  failures += CheckAddRmsNorm(rms, 5, 32, false);
  failures += CheckAddRmsNorm(rms, 13, 100, true);    // a last block of 5 rows, rows not a multiple of 32
  failures += CheckAddRmsNorm(rms, 3, 2560, true);    // wider than the warp kernel (qwen3-4b): the block kernel
  failures += CheckQkNormRope(rope, 50, 16, 8, 128);
  failures += CheckQkNormRope(rope, 9, 4, 2, 16);
  // Every attention kernel (WMMA tensor cores, the default; the one-pass mma.sync candidate;
  // one warp per query row). Prefix and sequence lengths straddle the tensor-core kernels'
  // 64-row blocks and 32/64-key tiles.
  for (const char* kernel : {"tensor-core", "mma", "warp"}) {
    setenv("CROSSRANK_CUDA_ATTENTION", kernel, 1);
    std::printf("-- decoder attention kernel: %s\n", kernel);
    failures += CheckDecoderAttention(attention, {20, 35}, {1, 7, 40, 33}, {0, -1, 1, 0}, 16, 8, 128);
    failures += CheckDecoderAttention(attention, {}, {3, 70}, {-1, -1}, 4, 2, 16);
    failures += CheckDecoderAttention(attention, {64}, {100, 1}, {0, 0}, 8, 1, 64);
    failures += CheckDecoderAttention(attention, {70, 31}, {130, 65, 64}, {1, 0, -1}, 4, 4, 32);
    failures += CheckDecoderAttention(attention, {9}, {12}, {0}, 6, 3, 40);  // no tensor-core variant
    if (many_sequences && std::strcmp(kernel, "mma") != 0) {  // its chunk loop is the tensor-core kernel's
      // More sequences than a grid's z extent (65,535), continuing two prefixes or none: launched
      // in chunks, each reading its own sequences' prefixes.
      std::vector<int> lengths(65537, 1), prefix_of(65537);
      for (size_t s = 0; s < prefix_of.size(); ++s) prefix_of[s] = int(s % 3) - 1;
      // The second launch's sequences continue other prefixes than the first launch's first
      // two: a chunk reading prefix_of from the start of the batch is caught.
      prefix_of[65535] = 1, prefix_of[65536] = -1;
      lengths.back() = 2;
      failures += CheckDecoderAttention(attention, {3, 5}, lengths, prefix_of, 1, 1, 16);
    }
  }
  unsetenv("CROSSRANK_CUDA_ATTENTION");
  failures += CheckSwiGlu(swiglu, 33, 3072);
  failures += CheckAnswerHead(head, 50, 1024, {0, 9, 10, 49, 23, 24, 30});
  return failures;
}

}  // namespace crossrank
