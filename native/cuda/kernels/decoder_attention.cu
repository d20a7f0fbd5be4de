#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/kernels/attention_tensor_core.cuh"
#include "cuda/kernels/decoder_attention.cuh"

namespace crossrank::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kMaxDimsPerLane = 8;  // head_dim <= 256

// Online-softmax state of one query row, spread over a warp: each lane owns the output
// dimensions lane, lane + 32, ... below head_dim.
struct RowState {
  float q[kMaxDimsPerLane];
  float acc[kMaxDimsPerLane];
  float running_max, running_sum;
};

// Folds `count` keys/values (rows `stride` elements apart) into the state, 32 keys at a time:
// one score per lane (each gathered by a warp reduction over dimensions), then a rescale of
// the accumulator as the running maximum moves.
template <typename T>
__device__ void Scan(RowState& st, const T* __restrict__ k, const T* __restrict__ v, int count, size_t stride,
                     int head_dim, int per_lane, int lane, float scale) {
  for (int j0 = 0; j0 < count; j0 += 32) {
    float my_score = -INFINITY;
    for (int jj = 0; jj < 32 && j0 + jj < count; ++jj) {
      const T* kj = k + (j0 + jj) * stride;
      float partial = 0;
#pragma unroll
      for (int d = 0; d < kMaxDimsPerLane; ++d) {
        if (d < per_lane && lane + 32 * d < head_dim) partial += st.q[d] * ToFloat(kj[lane + 32 * d]);
      }
      const float score = WarpSum(partial) * scale;
      if (lane == jj) my_score = score;
    }
    const bool valid = j0 + lane < count;
    const float new_max = fmaxf(st.running_max, WarpMax(valid ? my_score : -INFINITY));
    const float p = valid ? __expf(my_score - new_max) : 0.0f;
    const float rescale = __expf(st.running_max - new_max);  // 0 on the first chunk
    st.running_sum = st.running_sum * rescale + WarpSum(p);
#pragma unroll
    for (int d = 0; d < kMaxDimsPerLane; ++d) st.acc[d] *= rescale;
    for (int jj = 0; jj < 32 && j0 + jj < count; ++jj) {
      const float pj = __shfl_sync(0xffffffffu, p, jj);
      const T* vj = v + (j0 + jj) * stride;
#pragma unroll
      for (int d = 0; d < kMaxDimsPerLane; ++d) {
        if (d < per_lane && lane + 32 * d < head_dim) st.acc[d] += pj * ToFloat(vj[lane + 32 * d]);
      }
    }
    st.running_max = new_max;
  }
}

// One warp per query row. Grid: (ceil(max_seqlen / warps), heads, sequences). The fallback
// for head dims the tensor-core kernel (attention_tensor_core.cu) does not take.
template <typename T>
__global__ void DecoderAttentionKernel(DecoderAttentionParams<T> p, float scale, T* __restrict__ ctx) {
  const int s = blockIdx.z, h = blockIdx.y;
  const int start = p.cu_seqlens[s], len = p.cu_seqlens[s + 1] - start;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int i = blockIdx.x * kWarpsPerBlock + warp;
  if (i >= len) return;
  const int kv = h / (p.heads / p.kv_heads), d = p.head_dim;
  const int per_lane = (d + 31) / 32;
  const size_t kv_stride = static_cast<size_t>(p.kv_heads) * d;

  RowState st;
  const T* qi = p.q + (static_cast<size_t>(start + i) * p.heads + h) * d;
#pragma unroll
  for (int x = 0; x < kMaxDimsPerLane; ++x) {
    st.q[x] = x < per_lane && lane + 32 * x < d ? ToFloat(qi[lane + 32 * x]) : 0.0f;
    st.acc[x] = 0.0f;
  }
  st.running_max = -INFINITY;
  st.running_sum = 0.0f;

  const int prefix = p.prefix_of ? p.prefix_of[s] : -1;
  if (prefix >= 0) {
    const int p0 = p.prefix_cu[prefix], plen = p.prefix_cu[prefix + 1] - p0;
    Scan(st, p.prefix_k + p0 * kv_stride + kv * d, p.prefix_v + p0 * kv_stride + kv * d, plen, kv_stride, d, per_lane,
         lane, scale);
  }
  Scan(st, p.k + start * kv_stride + kv * d, p.v + start * kv_stride + kv * d, i + 1, kv_stride, d, per_lane, lane, scale);

  T* out = ctx + (static_cast<size_t>(start + i) * p.heads + h) * d;
  const float inv = 1.0f / st.running_sum;
#pragma unroll
  for (int x = 0; x < kMaxDimsPerLane; ++x) {
    if (x < per_lane && lane + 32 * x < d) out[lane + 32 * x] = FromFloat<T>(st.acc[x] * inv);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchDecoderAttention(const DecoderAttentionParams<T>& p, T* ctx, cudaStream_t stream) {
  if (p.num_seqs == 0 || p.max_seqlen == 0) return cudaSuccess;
  if (p.head_dim < 1 || p.head_dim > 32 * kMaxDimsPerLane || p.kv_heads < 1 || p.heads % p.kv_heads != 0 ||
      p.heads > 65535) {
    return cudaErrorInvalidValue;
  }
  const size_t q_stride = static_cast<size_t>(p.heads) * p.head_dim, kv_stride = static_cast<size_t>(p.kv_heads) * p.head_dim;
  const AttentionProblem<T> problem{p.q,        q_stride,     p.k,        p.v,       kv_stride, p.cu_seqlens,
                                 p.num_seqs, p.max_seqlen, p.heads,    p.kv_heads, p.head_dim, /*causal=*/true,
                                 p.prefix_k, p.prefix_v,   p.prefix_cu, p.prefix_of, ctx,      q_stride};
  if (!WarpAttentionForced() && TensorCoreAttentionSupports(problem)) return LaunchTensorCoreAttention(problem, stream);
  for (int first = 0; first < p.num_seqs; first += kMaxSequencesPerLaunch) {
    const DecoderAttentionParams<T> chunk = SequenceChunk(p, first, std::min(kMaxSequencesPerLaunch, p.num_seqs - first));
    dim3 grid((p.max_seqlen + kWarpsPerBlock - 1) / kWarpsPerBlock, p.heads, chunk.num_seqs);
    DecoderAttentionKernel<T><<<grid, kWarpsPerBlock * 32, 0, stream>>>(chunk, 1.0f / sqrtf(static_cast<float>(p.head_dim)),
                                                                        ctx);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template cudaError_t LaunchDecoderAttention(const DecoderAttentionParams<__half>&, __half*, cudaStream_t);
template cudaError_t LaunchDecoderAttention(const DecoderAttentionParams<__nv_bfloat16>&, __nv_bfloat16*, cudaStream_t);

}  // namespace crossrank::cuda
