// Attention on tensor cores for both model families: the encoder's bidirectional attention
// within each packed sequence, and the decoder's causal grouped-query attention over packed
// sequences that continue a cached prefix. Callers: LaunchVarlenAttention (attention.cu) and
// LaunchDecoderAttention (decoder_attention.cu), which keep their one-warp-per-row kernels
// for the shapes this one does not take. CPU references: ref::PackedAttention,
// ref::CausalAttention.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace crossrank::cuda {

// T: __half (encoders, decoders in fp16) or __nv_bfloat16 (decoders in bf16).
template <typename T>
struct AttentionProblem {
  // Token t's query row at q + t * q_stride, head h at columns [h * head_dim, (h + 1) * head_dim).
  const T* q;
  size_t q_stride;
  // Keys and values: token t at k/v + t * kv_stride, key/value head g at columns g * head_dim.
  const T* k;
  const T* v;
  size_t kv_stride;
  const int* cu_seqlens;  // [num_seqs + 1]
  int num_seqs, max_seqlen;
  int heads, kv_heads, head_dim;  // query head h reads key/value head h / (heads / kv_heads)
  bool causal;                    // token i of a sequence sees its own keys 0..i (else all of them)
  // Optional cached prefixes (same kv_stride): sequence s first sees every key of prefix
  // prefix_of[s] (-1: none). prefix_of null: no sequence has one.
  const T* prefix_k;
  const T* prefix_v;
  const int* prefix_cu;
  const int* prefix_of;
  T* ctx;  // token t, head h at ctx + t * ctx_stride + h * head_dim
  size_t ctx_stride;
};

// Sequences per launch: a grid's z extent, which the attention kernels give the sequence
// index; longer batches run as several launches over consecutive sequences.
constexpr int kMaxSequencesPerLaunch = 65535;

// The problem restricted to sequences [first, first + count): the kernels read token offsets
// from cu_seqlens (absolute, so a shifted pointer is all it takes) and prefix_of per sequence.
template <typename Problem>
Problem SequenceChunk(Problem p, int first, int count) {
  p.cu_seqlens += first;
  if (p.prefix_of) p.prefix_of += first;
  p.num_seqs = count;
  return p;
}

// head_dim 16, 32, 64 or 128; every row 16-byte aligned; grid limits.
template <typename T>
bool TensorCoreAttentionSupports(const AttentionProblem<T>& p);
template <typename T>
cudaError_t LaunchTensorCoreAttention(const AttentionProblem<T>& p, cudaStream_t stream);

// CROSSRANK_CUDA_ATTENTION=warp: both families on their one-warp-per-row kernels (read at
// each launch, so the op harness checks both).
bool WarpAttentionForced();

}  // namespace crossrank::cuda
