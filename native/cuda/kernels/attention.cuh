// Variable-length multi-head self-attention over a packed batch (no padding computed):
// for each sequence s, head h: ctx = softmax(q k^T / sqrt(d)) v over the sequence's own
// tokens. q, k, v are rows of 16-bit [total_tokens x ...] matrices (T: __half or
// __nv_bfloat16) `stride` elements apart (the encoder reads them from its fused q/k/v
// projection: stride 3 * hidden), head h at columns [h * head_dim, (h + 1) * head_dim); ctx
// is [total_tokens x ctx_stride]. fp32 softmax.
// CPU reference: ref::PackedAttention. head_dim <= 256.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace crossrank::cuda {

template <typename T>
struct VarlenAttentionArgs {
  const T* q;
  const T* k;
  const T* v;
  size_t stride;  // elements between consecutive tokens' rows of q, k and v
  const int* cu_seqlens;
  int num_seqs, max_seqlen, num_heads, head_dim;
  T* ctx;
  size_t ctx_stride;
};

// The tensor-core kernel (attention_tensor_core.cu) where it applies, else one warp per
// query row (attention.cu). CROSSRANK_CUDA_ATTENTION=warp forces the latter.
template <typename T>
cudaError_t LaunchVarlenAttention(const VarlenAttentionArgs<T>& args, cudaStream_t stream);

}  // namespace crossrank::cuda
