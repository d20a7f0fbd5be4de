#include "cuda/common.cuh"
#include "cuda/kernels/embedding.cuh"

namespace crossrank::cuda {
namespace {

// One block per token: gather and sum the three rows, then LayerNorm with fp32 statistics.
template <typename T>
__global__ void EmbeddingKernel(EmbeddingParams<T> p, const int* __restrict__ token_ids, const int* __restrict__ type_ids,
                                const int* __restrict__ positions, T* __restrict__ out) {
  extern __shared__ float row[];
  const int t = blockIdx.x;
  const size_t word = static_cast<size_t>(token_ids[t]) * p.hidden;
  const size_t pos = static_cast<size_t>(positions[t]) * p.hidden;
  const size_t type = static_cast<size_t>(p.roberta ? 0 : type_ids[t]) * p.hidden;
  float sum = 0;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) {
    row[i] = ToFloat(p.word[word + i]) + ToFloat(p.type[type + i]) + ToFloat(p.position[pos + i]);
    sum += row[i];
  }
  const float mean = BlockSum(sum) / p.hidden;
  float sq = 0;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) sq += (row[i] - mean) * (row[i] - mean);
  const float inv = rsqrtf(BlockSum(sq) / p.hidden + p.eps);
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) {
    out[static_cast<size_t>(t) * p.hidden + i] = FromFloat<T>((row[i] - mean) * inv * p.gamma[i] + p.beta[i]);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchEmbedding(const EmbeddingParams<T>& p, const int* token_ids, const int* type_ids, const int* positions,
                            int total, T* out, cudaStream_t stream) {
  if (total == 0) return cudaSuccess;
  EmbeddingKernel<T><<<total, 256, p.hidden * sizeof(float), stream>>>(p, token_ids, type_ids, positions, out);
  return cudaGetLastError();
}

template cudaError_t LaunchEmbedding(const EmbeddingParams<__half>&, const int*, const int*, const int*, int, __half*,
                                     cudaStream_t);
template cudaError_t LaunchEmbedding(const EmbeddingParams<__nv_bfloat16>&, const int*, const int*, const int*, int,
                                     __nv_bfloat16*, cudaStream_t);

}  // namespace crossrank::cuda
