// Variable-length multi-head self-attention over a packed batch (no padding computed):
// for each sequence s, head h: ctx = softmax(q k^T / sqrt(d)) v over the sequence's own
// tokens. q, k, v, ctx are [total_tokens x heads*head_dim] fp16; fp32 online softmax.
// CPU reference: ref::PackedAttention. head_dim <= 256.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

cudaError_t LaunchVarlenAttention(const __half* q, const __half* k, const __half* v, const int* cu_seqlens,
                                  int num_seqs, int max_seqlen, int num_heads, int head_dim, __half* ctx,
                                  cudaStream_t stream);

}  // namespace crossrank::cuda
