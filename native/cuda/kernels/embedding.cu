#include "cuda/common.cuh"
#include "cuda/kernels/embedding.cuh"

namespace crossrank::cuda {
namespace {

// One block per token: gather and sum the three rows, then LayerNorm with fp32 statistics.
__global__ void EmbeddingKernel(EmbeddingParams p, const int* __restrict__ token_ids, const int* __restrict__ type_ids,
                                const int* __restrict__ positions, __half* __restrict__ out) {
  extern __shared__ float row[];
  __shared__ float partial[32];
  __shared__ float stat;
  const int t = blockIdx.x;
  const size_t word = static_cast<size_t>(token_ids[t]) * p.hidden;
  const size_t pos = static_cast<size_t>(positions[t]) * p.hidden;
  const size_t type = static_cast<size_t>(p.roberta ? 0 : type_ids[t]) * p.hidden;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  auto block_sum = [&](float v) {
    v = WarpSum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
      float s = lane < warps ? partial[lane] : 0.0f;
      s = WarpSum(s);
      if (lane == 0) stat = s;
    }
    __syncthreads();
    const float r = stat;
    __syncthreads();
    return r;
  };
  float sum = 0;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) {
    row[i] = __half2float(p.word[word + i]) + __half2float(p.type[type + i]) + __half2float(p.position[pos + i]);
    sum += row[i];
  }
  const float mean = block_sum(sum) / p.hidden;
  float sq = 0;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) sq += (row[i] - mean) * (row[i] - mean);
  const float inv = rsqrtf(block_sum(sq) / p.hidden + p.eps);
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) {
    out[static_cast<size_t>(t) * p.hidden + i] = __float2half((row[i] - mean) * inv * p.gamma[i] + p.beta[i]);
  }
}

}  // namespace

cudaError_t LaunchEmbedding(const EmbeddingParams& p, const int* token_ids, const int* type_ids, const int* positions,
                            int total, __half* out, cudaStream_t stream) {
  if (total == 0) return cudaSuccess;
  EmbeddingKernel<<<total, 256, p.hidden * sizeof(float), stream>>>(p, token_ids, type_ids, positions, out);
  return cudaGetLastError();
}

}  // namespace crossrank::cuda
