#include "cuda/common.cuh"
#include "cuda/kernels/layernorm.cuh"

namespace crossrank::cuda {
namespace {

// One block per row; two passes over the row (mean, then variance) for accuracy. For rows
// wider than the warp kernel below takes.
template <typename T>
__global__ void AddLayerNormKernel(T* __restrict__ x, const T* __restrict__ residual,
                                   const float* __restrict__ gamma, const float* __restrict__ beta, int dim,
                                   float eps) {
  T* row = x + static_cast<size_t>(blockIdx.x) * dim;
  const T* res = residual ? residual + static_cast<size_t>(blockIdx.x) * dim : nullptr;

  float sum = 0;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = ToFloat(row[i]) + (res ? ToFloat(res[i]) : 0.0f);
    sum += v;
  }
  const float mean = BlockSum(sum) / dim;
  float sq = 0;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = ToFloat(row[i]) + (res ? ToFloat(res[i]) : 0.0f) - mean;
    sq += v * v;
  }
  const float inv = rsqrtf(BlockSum(sq) / dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = ToFloat(row[i]) + (res ? ToFloat(res[i]) : 0.0f);
    row[i] = FromFloat<T>((v - mean) * inv * gamma[i] + beta[i]);
  }
}

// One warp per row for rows of up to 32 x 32 = 1024 (every encoder we run): the row is read
// once into registers, mean and variance come from warp shuffles with no block barrier, and
// a block of 8 warps takes 8 rows. The block kernel above takes wider rows.
constexpr int kRowsPerWarpBlock = 8, kMaxPerLane = 32;

template <typename T>
__global__ void AddLayerNormWarpKernel(T* __restrict__ x, const T* __restrict__ residual,
                                       const float* __restrict__ gamma, const float* __restrict__ beta, int rows,
                                       int dim, float eps) {
  const int r = blockIdx.x * kRowsPerWarpBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (r >= rows) return;  // whole warps leave together: no barrier below
  T* row = x + static_cast<size_t>(r) * dim;
  const T* res = residual ? residual + static_cast<size_t>(r) * dim : nullptr;
  float v[kMaxPerLane];
  float sum = 0;
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j) {
    const int i = lane + 32 * j;
    v[j] = i < dim ? ToFloat(row[i]) + (res ? ToFloat(res[i]) : 0.0f) : 0.0f;
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
    if (i < dim) row[i] = FromFloat<T>((v[j] - mean) * inv * gamma[i] + beta[i]);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchAddLayerNorm(T* x, const T* residual, const float* gamma, const float* beta, int rows,
                               int dim, float eps, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (dim <= 32 * kMaxPerLane) {
    const int blocks = (rows + kRowsPerWarpBlock - 1) / kRowsPerWarpBlock;
    AddLayerNormWarpKernel<T><<<blocks, kRowsPerWarpBlock * 32, 0, stream>>>(x, residual, gamma, beta, rows, dim, eps);
  } else {
    AddLayerNormKernel<T><<<rows, 256, 0, stream>>>(x, residual, gamma, beta, dim, eps);
  }
  return cudaGetLastError();
}

template cudaError_t LaunchAddLayerNorm(__half*, const __half*, const float*, const float*, int, int, float,
                                        cudaStream_t);
template cudaError_t LaunchAddLayerNorm(__nv_bfloat16*, const __nv_bfloat16*, const float*, const float*, int, int,
                                        float, cudaStream_t);

}  // namespace crossrank::cuda
