#include "cuda/common.cuh"
#include "cuda/kernels/layernorm.cuh"

namespace crossrank::cuda {
namespace {

// One block per row; two passes over the row (mean, then variance) for accuracy. For rows
// wider than the warp kernel below takes.
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

// One warp per row for rows of up to 32 x 32 = 1024 (every encoder we run): the row is read
// once into registers, mean and variance come from warp shuffles with no block barrier, and
// a block of 8 warps takes 8 rows. The block kernel above takes wider rows.
constexpr int kRowsPerWarpBlock = 8, kMaxPerLane = 32;

__global__ void AddLayerNormWarpKernel(__half* __restrict__ x, const __half* __restrict__ residual,
                                       const float* __restrict__ gamma, const float* __restrict__ beta, int rows,
                                       int dim, float eps) {
  const int r = blockIdx.x * kRowsPerWarpBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (r >= rows) return;  // whole warps leave together: no barrier below
  __half* row = x + static_cast<size_t>(r) * dim;
  const __half* res = residual ? residual + static_cast<size_t>(r) * dim : nullptr;
  float v[kMaxPerLane];
  float sum = 0;
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j) {
    const int i = lane + 32 * j;
    v[j] = i < dim ? __half2float(row[i]) + (res ? __half2float(res[i]) : 0.0f) : 0.0f;
    sum += v[j];
  }
  const float mean = WarpSum(sum) / dim;
  float sq = 0;
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j) {
    const float d = lane + 32 * j < dim ? v[j] - mean : 0.0f;
    sq += d * d;
  }
  const float inv = rsqrtf(WarpSum(sq) / dim + eps);
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j) {
    const int i = lane + 32 * j;
    if (i < dim) row[i] = __float2half((v[j] - mean) * inv * gamma[i] + beta[i]);
  }
}

}  // namespace

cudaError_t LaunchAddLayerNorm(__half* x, const __half* residual, const float* gamma, const float* beta, int rows,
                               int dim, float eps, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (dim <= 32 * kMaxPerLane) {
    const int blocks = (rows + kRowsPerWarpBlock - 1) / kRowsPerWarpBlock;
    AddLayerNormWarpKernel<<<blocks, kRowsPerWarpBlock * 32, 0, stream>>>(x, residual, gamma, beta, rows, dim, eps);
  } else {
    AddLayerNormKernel<<<rows, 256, 0, stream>>>(x, residual, gamma, beta, dim, eps);
  }
  return cudaGetLastError();
}

}  // namespace crossrank::cuda
