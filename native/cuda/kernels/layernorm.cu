#include "cuda/common.cuh"
#include "cuda/kernels/layernorm.cuh"

namespace crossrank::cuda {
namespace {

// One block per row; two passes over the row (mean, then variance) for accuracy.
__global__ void AddLayerNormKernel(__half* __restrict__ x, const __half* __restrict__ residual,
                                   const float* __restrict__ gamma, const float* __restrict__ beta, int dim,
                                   float eps) {
  __half* row = x + static_cast<size_t>(blockIdx.x) * dim;
  const __half* res = residual ? residual + static_cast<size_t>(blockIdx.x) * dim : nullptr;

  float sum = 0;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = __half2float(row[i]) + (res ? __half2float(res[i]) : 0.0f);
    sum += v;
  }
  const float mean = BlockSum(sum) / dim;
  float sq = 0;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = __half2float(row[i]) + (res ? __half2float(res[i]) : 0.0f) - mean;
    sq += v * v;
  }
  const float inv = rsqrtf(BlockSum(sq) / dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = __half2float(row[i]) + (res ? __half2float(res[i]) : 0.0f);
    row[i] = __float2half((v - mean) * inv * gamma[i] + beta[i]);
  }
}

}  // namespace

cudaError_t LaunchAddLayerNorm(__half* x, const __half* residual, const float* gamma, const float* beta, int rows,
                               int dim, float eps, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  AddLayerNormKernel<<<rows, 256, 0, stream>>>(x, residual, gamma, beta, dim, eps);
  return cudaGetLastError();
}

}  // namespace crossrank::cuda
