#include "cuda/common.cuh"
#include "cuda/kernels/rmsnorm.cuh"

namespace crossrank::cuda {
namespace {

// One block per row: add the delta (writing the residual back), sum the squares, scale. For
// rows wider than the warp kernel below takes.
template <typename T>
__global__ void AddRmsNormKernel(float* __restrict__ x, const T* __restrict__ delta,
                                 const float* __restrict__ gamma, int dim, float eps, T* __restrict__ out) {
  float* row = x + static_cast<size_t>(blockIdx.x) * dim;
  const T* d = delta ? delta + static_cast<size_t>(blockIdx.x) * dim : nullptr;
  T* o = out + static_cast<size_t>(blockIdx.x) * dim;
  float sq = 0;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = row[i];
    if (d) row[i] = v = v + ToFloat(d[i]);
    sq += v * v;
  }
  const float inv = rsqrtf(BlockSum(sq) / dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = FromFloat<T>(row[i] * inv * gamma[i]);
}

// One warp per row for rows of up to 1024 (qwen3-0.6b's hidden size): the row is read once
// into registers and the sum of squares comes from warp shuffles with no block barrier; a
// block of 8 warps takes 8 rows. The block kernel above takes wider rows.
constexpr int kRowsPerWarpBlock = 8, kMaxPerLane = 32;

template <typename T>
__global__ void AddRmsNormWarpKernel(float* __restrict__ x, const T* __restrict__ delta,
                                     const float* __restrict__ gamma, int rows, int dim, float eps,
                                     T* __restrict__ out) {
  const int r = blockIdx.x * kRowsPerWarpBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (r >= rows) return;  // whole warps leave together: no barrier below
  float* row = x + static_cast<size_t>(r) * dim;
  const T* d = delta ? delta + static_cast<size_t>(r) * dim : nullptr;
  T* o = out + static_cast<size_t>(r) * dim;
  float v[kMaxPerLane];
  float sq = 0;
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j) {
    const int i = lane + 32 * j;
    v[j] = 0.0f;
    if (i < dim) {
      v[j] = row[i];
      if (d) row[i] = v[j] = v[j] + ToFloat(d[i]);
    }
    sq += v[j] * v[j];
  }
  const float inv = rsqrtf(WarpSum(sq) / dim + eps);
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j) {
    const int i = lane + 32 * j;
    if (i < dim) o[i] = FromFloat<T>(v[j] * inv * gamma[i]);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchAddRmsNorm(float* x, const T* delta, const float* gamma, int rows, int dim, float eps, T* out,
                             cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (dim <= 32 * kMaxPerLane) {
    const int blocks = (rows + kRowsPerWarpBlock - 1) / kRowsPerWarpBlock;
    AddRmsNormWarpKernel<T><<<blocks, kRowsPerWarpBlock * 32, 0, stream>>>(x, delta, gamma, rows, dim, eps, out);
  } else {
    AddRmsNormKernel<T><<<rows, 256, 0, stream>>>(x, delta, gamma, dim, eps, out);
  }
  return cudaGetLastError();
}

template cudaError_t LaunchAddRmsNorm(float*, const __half*, const float*, int, int, float, __half*, cudaStream_t);
template cudaError_t LaunchAddRmsNorm(float*, const __nv_bfloat16*, const float*, int, int, float, __nv_bfloat16*,
                                      cudaStream_t);

}  // namespace crossrank::cuda
