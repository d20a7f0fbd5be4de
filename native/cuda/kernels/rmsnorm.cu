#include "cuda/common.cuh"
#include "cuda/kernels/rmsnorm.cuh"

namespace crossrank::cuda {
namespace {

// One block per row: add the delta (writing the residual back), sum the squares, scale.
__global__ void AddRmsNormKernel(float* __restrict__ x, const __half* __restrict__ delta,
                                 const float* __restrict__ gamma, int dim, float eps, __half* __restrict__ out) {
  float* row = x + static_cast<size_t>(blockIdx.x) * dim;
  const __half* d = delta ? delta + static_cast<size_t>(blockIdx.x) * dim : nullptr;
  __half* o = out + static_cast<size_t>(blockIdx.x) * dim;
  float sq = 0;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = row[i];
    if (d) row[i] = v = v + __half2float(d[i]);
    sq += v * v;
  }
  const float inv = rsqrtf(BlockSum(sq) / dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = __float2half(row[i] * inv * gamma[i]);
}

}  // namespace

cudaError_t LaunchAddRmsNorm(float* x, const __half* delta, const float* gamma, int rows, int dim, float eps,
                             __half* out, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  AddRmsNormKernel<<<rows, 256, 0, stream>>>(x, delta, gamma, dim, eps, out);
  return cudaGetLastError();
}

}  // namespace crossrank::cuda
