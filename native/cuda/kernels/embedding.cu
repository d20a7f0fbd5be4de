#include "cuda/common.cuh"
#include "cuda/kernels/embedding.cuh"

namespace crossrank::cuda {
namespace {

// One block per token: gather and sum the three rows, then LayerNorm with fp32 statistics.
__global__ void EmbeddingKernel(EmbeddingParams p, const int* __restrict__ token_ids, const int* __restrict__ type_ids,
                                const int* __restrict__ positions, __half* __restrict__ out) {
  extern __shared__ float row[];
  const int t = blockIdx.x;
  const size_t word = static_cast<size_t>(token_ids[t]) * p.hidden;
  const size_t pos = static_cast<size_t>(positions[t]) * p.hidden;
  const size_t type = static_cast<size_t>(p.roberta ? 0 : type_ids[t]) * p.hidden;
  float sum = 0;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) {
    row[i] = __half2float(p.word[word + i]) + __half2float(p.type[type + i]) + __half2float(p.position[pos + i]);
    sum += row[i];
  }
  const float mean = BlockSum(sum) / p.hidden;
  float sq = 0;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) sq += (row[i] - mean) * (row[i] - mean);
  const float inv = rsqrtf(BlockSum(sq) / p.hidden + p.eps);
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
