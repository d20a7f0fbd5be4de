#include <mma.h>

#include "cuda/common.cuh"
#include "cuda/kernels/gemm.cuh"

namespace crossrank::cuda {
namespace {

using namespace nvcuda;

constexpr int kTile = 64;     // block tile: 64 x 64 outputs
constexpr int kTileK = 32;    // K step
constexpr int kWarps = 4;     // each warp computes 32 x 32 (2 x 2 fragments)

__device__ __forceinline__ float Gelu(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

// One block: a 64 x 64 tile of Y. Tiles of X and W are staged in shared memory (zero
// padded at the edges); WMMA 16x16x16 fragments accumulate in fp32.
__global__ void LinearWmmaKernel(const __half* __restrict__ x, const __half* __restrict__ w,
                                 const float* __restrict__ bias, __half* __restrict__ y, int m, int n, int k,
                                 int epilogue) {
  // WMMA loads and stores need 32-byte aligned addresses.
  __shared__ __align__(32) __half xs[kTile][kTileK + 8];
  __shared__ __align__(32) __half ws[kTile][kTileK + 8];
  __shared__ __align__(32) float out[kTile][kTile + 4];
  const int row0 = blockIdx.y * kTile, col0 = blockIdx.x * kTile;
  const int warp = threadIdx.x / 32;
  const int wr = (warp / 2) * 32, wc = (warp % 2) * 32;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  for (int k0 = 0; k0 < k; k0 += kTileK) {
    for (int idx = threadIdx.x; idx < kTile * kTileK; idx += blockDim.x) {
      const int r = idx / kTileK, c = idx % kTileK;
      const int gk = k0 + c;
      xs[r][c] = (row0 + r < m && gk < k) ? x[static_cast<size_t>(row0 + r) * k + gk] : __float2half(0.0f);
      ws[r][c] = (col0 + r < n && gk < k) ? w[static_cast<size_t>(col0 + r) * k + gk] : __float2half(0.0f);
    }
    __syncthreads();
    for (int kk = 0; kk < kTileK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b[2];
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &xs[wr + 16 * i][kk], kTileK + 8);
      // W is [N x K] row-major, i.e. W^T [K x N] column-major.
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &ws[wc + 16 * j][kk], kTileK + 8);
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&out[wr + 16 * i][wc + 16 * j], acc[i][j], kTile + 4, wmma::mem_row_major);
  __syncthreads();
  for (int idx = threadIdx.x; idx < kTile * kTile; idx += blockDim.x) {
    const int r = idx / kTile, c = idx % kTile;
    if (row0 + r >= m || col0 + c >= n) continue;
    float v = out[r][c] + bias[col0 + c];
    if (epilogue == 1) v = Gelu(v);
    y[static_cast<size_t>(row0 + r) * n + col0 + c] = __float2half(v);
  }
}

// Shapes the tensor-core kernel does not take (e.g. a classifier with one output).
__global__ void LinearSimpleKernel(const __half* __restrict__ x, const __half* __restrict__ w,
                                   const float* __restrict__ bias, __half* __restrict__ y, int m, int n, int k,
                                   int epilogue) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= m * n) return;
  const int r = idx / n, c = idx % n;
  float s = 0;
  for (int i = 0; i < k; ++i) s += __half2float(x[static_cast<size_t>(r) * k + i]) * __half2float(w[static_cast<size_t>(c) * k + i]);
  s += bias[c];
  if (epilogue == 1) s = Gelu(s);
  y[idx] = __float2half(s);
}

}  // namespace

cudaError_t LaunchLinear(const __half* x, const __half* w, const float* bias, __half* y, int m, int n, int k,
                         Epilogue epilogue, cudaStream_t stream) {
  if (m == 0 || n == 0) return cudaSuccess;
  if (n % 16 == 0 && k % 16 == 0) {
    dim3 grid((n + kTile - 1) / kTile, (m + kTile - 1) / kTile);
    LinearWmmaKernel<<<grid, kWarps * 32, 0, stream>>>(x, w, bias, y, m, n, k, static_cast<int>(epilogue));
  } else {
    const int threads = 256;
    LinearSimpleKernel<<<(m * n + threads - 1) / threads, threads, 0, stream>>>(x, w, bias, y, m, n, k,
                                                                                static_cast<int>(epilogue));
  }
  return cudaGetLastError();
}

}  // namespace crossrank::cuda
