// Causal grouped-query attention over packed sequences, each of which may continue a cached
// prefix (a query's prompt prefix, run once): query token i of sequence s, at position
// prefix_length + i, attends to every key of its prefix and to its own keys 0..i. Query head
// j reads key/value head j / (heads / kv_heads). No padding is computed.
// CPU reference: ref::CausalAttention (native/reference/decoder_ops.cc).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

struct DecoderAttentionParams {
  const __half* q;           // [tokens x heads x head_dim]
  const __half* k;           // [tokens x kv_heads x head_dim]
  const __half* v;
  const int* cu_seqlens;     // [num_seqs + 1]
  int num_seqs, max_seqlen;
  const __half* prefix_k;    // [prefix tokens x kv_heads x head_dim], or null
  const __half* prefix_v;
  const int* prefix_cu;      // [num_prefixes + 1], or null
  const int* prefix_of;      // [num_seqs]: the prefix each sequence continues, or -1; null: none
  int heads, kv_heads, head_dim;
};

cudaError_t LaunchDecoderAttention(const DecoderAttentionParams& p, __half* ctx, cudaStream_t stream);

}  // namespace crossrank::cuda
