// Causal grouped-query attention over packed sequences, each of which may continue a cached
// prefix (a query's prompt prefix, run once): query token i of sequence s, at position
// prefix_length + i, attends to every key of its prefix and to its own keys 0..i. Query head
// j reads key/value head j / (heads / kv_heads). No padding is computed.
// CPU reference: ref::CausalAttention (native/reference/decoder_ops.cc).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

// T: __half or __nv_bfloat16.
template <typename T>
struct DecoderAttentionParams {
  const T* q;                // [tokens x heads x head_dim]
  const T* k;                // [tokens x kv_heads x head_dim]
  const T* v;
  const int* cu_seqlens;     // [num_seqs + 1]
  int num_seqs, max_seqlen;
  const T* prefix_k;         // [prefix tokens x kv_heads x head_dim], or null
  const T* prefix_v;
  const int* prefix_cu;      // [num_prefixes + 1], or null
  const int* prefix_of;      // [num_seqs]: the prefix each sequence continues, or -1; null: none
  int heads, kv_heads, head_dim;
};

template <typename T>
cudaError_t LaunchDecoderAttention(const DecoderAttentionParams<T>& p, T* ctx, cudaStream_t stream);

}  // namespace crossrank::cuda
