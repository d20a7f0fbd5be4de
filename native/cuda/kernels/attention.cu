#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/kernels/attention.cuh"
#include "cuda/kernels/attention_tensor_core.cuh"

namespace crossrank::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kMaxDimsPerLane = 8;  // head_dim <= 256

// One warp per query row: keys are scanned 32 at a time (one per lane), with an online
// softmax (running max and sum) so the row never needs its scores stored; each lane owns
// head_dim / 32 output dimensions. Grid: (ceil(max_seqlen / warps), heads, sequences).
// The fallback for head dims the tensor-core kernel does not take (e.g. 26 in the 312-wide TinyBERT).
template <typename T>
__global__ void VarlenAttentionKernel(const T* __restrict__ q, const T* __restrict__ k,
                                      const T* __restrict__ v, size_t stride, const int* __restrict__ cu_seqlens,
                                      int head_dim, float scale, T* __restrict__ ctx, size_t ctx_stride) {
  const int s = blockIdx.z, h = blockIdx.y;
  const int start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int i = blockIdx.x * kWarpsPerBlock + warp;
  if (i >= len) return;
  const T* qi = q + (start + i) * stride + h * head_dim;
  const int per_lane = (head_dim + 31) / 32;  // lane owns dims lane, lane + 32, ... below head_dim

  float qv[kMaxDimsPerLane];
#pragma unroll
  for (int d = 0; d < kMaxDimsPerLane; ++d) qv[d] = d < per_lane && lane + 32 * d < head_dim ? ToFloat(qi[lane + 32 * d]) : 0.0f;
  float acc[kMaxDimsPerLane] = {0};
  float running_max = -INFINITY, running_sum = 0;

  for (int j0 = 0; j0 < len; j0 += 32) {
    const int j = j0 + lane;
    // Each lane scores one key: the dot product is split across lanes by dimension, so
    // gather it with a warp reduction per key.
    float my_score = -INFINITY;
    for (int jj = 0; jj < 32 && j0 + jj < len; ++jj) {
      const T* kj = k + (start + j0 + jj) * stride + h * head_dim;
      float partial = 0;
#pragma unroll
      for (int d = 0; d < kMaxDimsPerLane; ++d) {
        if (d < per_lane && lane + 32 * d < head_dim) partial += qv[d] * ToFloat(kj[lane + 32 * d]);
      }
      const float score = WarpSum(partial) * scale;
      if (lane == jj) my_score = score;
    }
    const float chunk_max = WarpMax(j < len ? my_score : -INFINITY);
    const float new_max = fmaxf(running_max, chunk_max);
    const float p = j < len ? __expf(my_score - new_max) : 0.0f;
    const float rescale = __expf(running_max - new_max);  // 0 on the first chunk
    running_sum = running_sum * rescale + WarpSum(p);
#pragma unroll
    for (int d = 0; d < kMaxDimsPerLane; ++d) acc[d] *= rescale;
    for (int jj = 0; jj < 32 && j0 + jj < len; ++jj) {
      const float pj = __shfl_sync(0xffffffffu, p, jj);
      const T* vj = v + (start + j0 + jj) * stride + h * head_dim;
#pragma unroll
      for (int d = 0; d < kMaxDimsPerLane; ++d) {
        if (d < per_lane && lane + 32 * d < head_dim) acc[d] += pj * ToFloat(vj[lane + 32 * d]);
      }
    }
    running_max = new_max;
  }
  T* out = ctx + (start + i) * ctx_stride + h * head_dim;
  const float inv = 1.0f / running_sum;
#pragma unroll
  for (int d = 0; d < kMaxDimsPerLane; ++d) {
    if (d < per_lane && lane + 32 * d < head_dim) out[lane + 32 * d] = FromFloat<T>(acc[d] * inv);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchVarlenAttention(const VarlenAttentionArgs<T>& a, cudaStream_t stream) {
  if (a.num_seqs == 0 || a.max_seqlen == 0) return cudaSuccess;
  if (a.head_dim < 1 || a.head_dim > 32 * kMaxDimsPerLane) return cudaErrorInvalidValue;
  const AttentionProblem<T> problem{a.q,       a.stride,       a.k,     a.v,     a.stride,   a.cu_seqlens,
                                 a.num_seqs, a.max_seqlen, a.num_heads, a.num_heads, a.head_dim, /*causal=*/false,
                                 nullptr,   nullptr,        nullptr, nullptr, a.ctx,      a.ctx_stride};
  if (!WarpAttentionForced() && TensorCoreAttentionSupports(problem)) return LaunchTensorCoreAttention(problem, stream);
  for (int first = 0; first < a.num_seqs; first += kMaxSequencesPerLaunch) {
    const int count = std::min(kMaxSequencesPerLaunch, a.num_seqs - first);
    dim3 grid((a.max_seqlen + kWarpsPerBlock - 1) / kWarpsPerBlock, a.num_heads, count);
    VarlenAttentionKernel<T><<<grid, kWarpsPerBlock * 32, 0, stream>>>(
        a.q, a.k, a.v, a.stride, a.cu_seqlens + first, a.head_dim, 1.0f / sqrtf(static_cast<float>(a.head_dim)), a.ctx,
        a.ctx_stride);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template cudaError_t LaunchVarlenAttention(const VarlenAttentionArgs<__half>&, cudaStream_t);
template cudaError_t LaunchVarlenAttention(const VarlenAttentionArgs<__nv_bfloat16>&, cudaStream_t);

}  // namespace crossrank::cuda
