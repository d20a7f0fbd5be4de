#include <mma.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cuda/common.cuh"
#include "cuda/kernels/async_copy.cuh"
#include "cuda/kernels/gemm.cuh"
#include "cuda/kernels/linear_library.cuh"

namespace crossrank::cuda {
namespace {

using namespace nvcuda;

constexpr int kTile = 64;     // block tile: 64 x 64 outputs
constexpr int kTileK = 32;    // K step
constexpr int kWarps = 4;     // each warp computes 32 x 32 (2 x 2 fragments)

__device__ __forceinline__ float Gelu(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

// One block: a 64 x 64 tile of Y. Tiles of X and W are staged in shared memory (zero
// padded at the edges); WMMA 16x16x16 fragments accumulate in fp32.
template <typename T>
__global__ void LinearWmmaKernel(const T* __restrict__ x, const T* __restrict__ w, const float* __restrict__ bias,
                                 T* __restrict__ y, int m, int n, int k, int epilogue) {
  // WMMA loads and stores need 32-byte aligned addresses.
  __shared__ __align__(32) T xs[kTile][kTileK + 8];
  __shared__ __align__(32) T ws[kTile][kTileK + 8];
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
      xs[r][c] = (row0 + r < m && gk < k) ? x[static_cast<size_t>(row0 + r) * k + gk] : FromFloat<T>(0.0f);
      ws[r][c] = (col0 + r < n && gk < k) ? w[static_cast<size_t>(col0 + r) * k + gk] : FromFloat<T>(0.0f);
    }
    __syncthreads();
    for (int kk = 0; kk < kTileK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b[2];
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
    float v = out[r][c] + (bias ? bias[col0 + c] : 0.0f);
    if (epilogue == 1) v = Gelu(v);
    y[static_cast<size_t>(row0 + r) * n + col0 + c] = FromFloat<T>(v);
  }
}

// Shapes the tensor-core kernel does not take (e.g. a classifier with one output).
template <typename T>
__global__ void LinearSimpleKernel(const T* __restrict__ x, const T* __restrict__ w, const float* __restrict__ bias,
                                   T* __restrict__ y, int m, int n, int k, int epilogue) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= m * n) return;
  const int r = idx / n, c = idx % n;
  float s = 0;
  for (int i = 0; i < k; ++i) s += ToFloat(x[static_cast<size_t>(r) * k + i]) * ToFloat(w[static_cast<size_t>(c) * k + i]);
  if (bias) s += bias[c];
  if (epilogue == 1) s = Gelu(s);
  y[idx] = FromFloat<T>(s);
}

// The pipelined tensor-core kernel: 128 x 128 block tiles, 8 warps of 64 x 32, K in steps of
// 32 with two shared-memory stages filled by cp.async (sm_80+) while the other is computed.
// Rows past M or N and columns past K are zero-filled by the copy itself.
constexpr int kBig = 128, kBigK = 32, kBigLd = kBigK + 8, kBigWarps = 8;
constexpr int kStageElements = kBig * kBigLd;  // one operand tile of one stage

// Copies a 128 x 32 tile of rows [row0, row0 + 128) and columns [k0, k0 + 32) of a row-major
// [rows x k] matrix into shared memory: 512 chunks of 8 elements over the block's kThreads.
template <int kThreads, typename T>
__device__ __forceinline__ void LoadTile(T* dst, const T* __restrict__ src, int rows, int k, int row0, int k0) {
  for (int c = threadIdx.x; c < kBig * kBigK / 8; c += kThreads) {
    const int r = c / (kBigK / 8), col = (c % (kBigK / 8)) * 8;
    const bool inside = row0 + r < rows && k0 + col < k;
    const T* from = inside ? src + static_cast<size_t>(row0 + r) * k + k0 + col : src;
    CpAsync16(dst + r * kBigLd + col, from, inside ? 16 : 0);
  }
}

// One shared-memory stage of the 128 x 128 kernels (A and B tiles of 128 x kBigK, rows kBigLd
// apart) into a warp's kI x kJ fragments at rows wm and columns wn of the block tile.
template <int kI, int kJ, typename T>
__device__ __forceinline__ void MultiplyStage(wmma::fragment<wmma::accumulator, 16, 16, 16, float> (&acc)[kI][kJ],
                                              const T* as, const T* bs, int wm, int wn) {
#pragma unroll
  for (int kk = 0; kk < kBigK; kk += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[kI];
    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b[kJ];
#pragma unroll
    for (int i = 0; i < kI; ++i) wmma::load_matrix_sync(a[i], as + (wm + 16 * i) * kBigLd + kk, kBigLd);
#pragma unroll
    for (int j = 0; j < kJ; ++j) wmma::load_matrix_sync(b[j], bs + (wn + 16 * j) * kBigLd + kk, kBigLd);
#pragma unroll
    for (int i = 0; i < kI; ++i)
#pragma unroll
      for (int j = 0; j < kJ; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
  }
}

// A warp's kI x kJ accumulator fragments, rows from r0 and columns from c0, to Y (+ bias,
// GELU) through `staging`, a 16 x 16 fp32 square of shared memory of its own. Each lane
// takes 8 consecutive outputs of one row: two 16-byte reads of staging and of the bias, one
// 16-byte store (LaunchLinear sends unaligned buffers to the 64 x 64 kernel instead).
template <int kI, int kJ, typename T>
__device__ __forceinline__ void StoreTiles(wmma::fragment<wmma::accumulator, 16, 16, 16, float> (&acc)[kI][kJ],
                                           float* staging, int lane, int r0, int c0, const float* __restrict__ bias,
                                           T* __restrict__ y, int m, int n, int epilogue) {
#pragma unroll
  for (int i = 0; i < kI; ++i) {
#pragma unroll
    for (int j = 0; j < kJ; ++j) {
      wmma::store_matrix_sync(staging, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      // Lane: row lane / 2, columns (lane % 2) * 8 .. + 8; n and c are multiples of 8, so c < n
      // implies c + 8 <= n.
      const int e = lane * 8, r = r0 + 16 * i + e / 16, c = c0 + 16 * j + e % 16;
      if (r < m && c < n) {
        const float4 s0 = *reinterpret_cast<const float4*>(staging + e);
        const float4 s1 = *reinterpret_cast<const float4*>(staging + e + 4);
        const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        const float4 b0 = bias ? *reinterpret_cast<const float4*>(bias + c) : zero;
        const float4 b1 = bias ? *reinterpret_cast<const float4*>(bias + c + 4) : zero;
        float v[8] = {s0.x + b0.x, s0.y + b0.y, s0.z + b0.z, s0.w + b0.w,
                      s1.x + b1.x, s1.y + b1.y, s1.z + b1.z, s1.w + b1.w};
        __align__(16) T out[8];
#pragma unroll
        for (int t = 0; t < 8; ++t) out[t] = FromFloat<T>(epilogue == 1 ? Gelu(v[t]) : v[t]);
        *reinterpret_cast<uint4*>(y + static_cast<size_t>(r) * n + c) = *reinterpret_cast<const uint4*>(out);
      }
      __syncwarp();
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kBigWarps * 32)
    LinearPipelinedKernel(const T* __restrict__ x, const T* __restrict__ w, const float* __restrict__ bias,
                          T* __restrict__ y, int m, int n, int k, int epilogue) {
  __shared__ __align__(128) T smem[4 * kStageElements];  // A stage 0, A stage 1, B stage 0, B stage 1
  const int row0 = blockIdx.y * kBig, col0 = blockIdx.x * kBig;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = (warp / 4) * 64, wn = (warp % 4) * 32;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][2];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  const int tiles = (k + kBigK - 1) / kBigK;
  LoadTile<kBigWarps * 32>(smem, x, m, k, row0, 0);
  LoadTile<kBigWarps * 32>(smem + 2 * kStageElements, w, n, k, col0, 0);
  CpAsyncCommit();
  for (int t = 0; t < tiles; ++t) {
    const int stage = t & 1;
    if (t + 1 < tiles) {  // the next stage loads while this one is computed
      LoadTile<kBigWarps * 32>(smem + (stage ^ 1) * kStageElements, x, m, k, row0, (t + 1) * kBigK);
      LoadTile<kBigWarps * 32>(smem + (2 + (stage ^ 1)) * kStageElements, w, n, k, col0, (t + 1) * kBigK);
    }
    CpAsyncCommit();
    CpAsyncWait<1>();
    __syncthreads();
    const T* as = smem + stage * kStageElements;
    const T* bs = smem + (2 + stage) * kStageElements;
    MultiplyStage<4, 2>(acc, as, bs, wm, wn);
    __syncthreads();  // the stage just read is the next iteration's load target
  }

  // Epilogue through a 16 x 16 fp32 staging square per warp (reusing the operand buffers).
  StoreTiles<4, 2>(acc, reinterpret_cast<float*>(smem) + warp * 256, lane, row0 + wm, col0 + wn, bias, y, m, n, epilogue);
}

// The wide kernel, a candidate for the default: the same 128 x 128 block tile and K steps
// of 32, but 4 warps of 64 x 64 (half the shared-memory fragment loads per product of the
// 8 warps of 64 x 32) and three stages in flight (two copies ahead of the one computed), the
// tile shape and depth CUTLASS uses for fp16 on sm_80+. 60 KB of shared memory: dynamic,
// opted in with cudaFuncSetAttribute. One barrier per K step: the stage loaded at step t is
// the one computed at step t - 1, which every warp has left once it passes step t's barrier.
constexpr int kWideWarps = 4, kWideStages = 3;
constexpr size_t kWideSharedBytes = size_t(kWideStages) * 2 * kStageElements * 2;  // 16-bit elements

template <typename T>
__global__ void __launch_bounds__(kWideWarps * 32)
    LinearWideKernel(const T* __restrict__ x, const T* __restrict__ w, const float* __restrict__ bias,
                     T* __restrict__ y, int m, int n, int k, int epilogue) {
  // One untyped array for both instantiations (nvcc refuses extern shared arrays whose type
  // differs between them).
  extern __shared__ __align__(128) uint4 wide_bytes[];
  T* const wide_smem = reinterpret_cast<T*>(wide_bytes);  // stage s: A at 2s, B at 2s + 1 (kStageElements each)
  const int row0 = blockIdx.y * kBig, col0 = blockIdx.x * kBig;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = (warp / 2) * 64, wn = (warp % 2) * 64;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  const int tiles = (k + kBigK - 1) / kBigK;
  auto load = [&](int t) {
    T* stage = wide_smem + (t % kWideStages) * 2 * kStageElements;
    LoadTile<kWideWarps * 32>(stage, x, m, k, row0, t * kBigK);
    LoadTile<kWideWarps * 32>(stage + kStageElements, w, n, k, col0, t * kBigK);
  };
  // Every step commits one group (empty past the last tile), so "all but the newest group
  // done" always means "the tile about to be computed has landed".
#pragma unroll
  for (int t = 0; t < kWideStages - 1; ++t) {
    if (t < tiles) load(t);
    CpAsyncCommit();
  }
  for (int t = 0; t < tiles; ++t) {
    CpAsyncWait<1>();
    __syncthreads();
    if (t + kWideStages - 1 < tiles) load(t + kWideStages - 1);
    CpAsyncCommit();
    const T* as = wide_smem + (t % kWideStages) * 2 * kStageElements;
    const T* bs = as + kStageElements;
    MultiplyStage<4, 4>(acc, as, bs, wm, wn);
  }
  __syncthreads();  // the staging squares below overlap stages other warps may still be reading
  StoreTiles<4, 4>(acc, reinterpret_cast<float*>(wide_smem) + warp * 256, lane, row0 + wm, col0 + wn, bias, y, m, n,
                   epilogue);
}

// Exact GELU over y in place: the cuBLASLt path's activation (its own epilogue has only the
// tanh approximation, which BERT-family models do not use). Memory-bound, so 8 elements (16
// bytes) per access: one element per thread left it at about a third of the card's bandwidth
// (first device run: 0.06 ms over 12,800 x 1,536, as long as the matrix product before it).
template <typename T>
__global__ void GeluInPlaceKernel(T* __restrict__ y, size_t count) {
  const size_t stride = size_t(gridDim.x) * blockDim.x, first = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool vectors = reinterpret_cast<uintptr_t>(y) % 16 == 0;
  const size_t chunks = vectors ? count / 8 : 0;
  for (size_t c = first; c < chunks; c += stride) {
    uint4 bits = reinterpret_cast<const uint4*>(y)[c];
    T* e = reinterpret_cast<T*>(&bits);
#pragma unroll
    for (int j = 0; j < 8; ++j) e[j] = FromFloat<T>(Gelu(ToFloat(e[j])));
    reinterpret_cast<uint4*>(y)[c] = bits;
  }
  for (size_t i = chunks * 8 + first; i < count; i += stride) y[i] = FromFloat<T>(Gelu(ToFloat(y[i])));
}

// CROSSRANK_CUDA_GEMM picks the tensor-core kernel: `pipelined` (default), `wide` (the
// candidate above), `wmma64` (the first, simplest; a fallback while a new kernel is being
// verified on a card). Read at each launch so the op harness can check and time all three.
enum class GemmKernel { kPipelined, kWide, kWmma64 };
GemmKernel ChosenKernel() {
  const char* v = std::getenv("CROSSRANK_CUDA_GEMM");
  if (v && std::strcmp(v, "wmma64") == 0) return GemmKernel::kWmma64;
  if (v && std::strcmp(v, "wide") == 0) return GemmKernel::kWide;
  return GemmKernel::kPipelined;
}

// The wide kernel's shared memory is over the 48 KB a launch gets without opting in; the
// opt-in is per device and kernel, made once on each.
template <typename T>
cudaError_t OptInWideShared() {
  static std::atomic<uint64_t> done{0};  // bit d: device d
  int device = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e != cudaSuccess) return e;
  const uint64_t bit = device < 64 ? uint64_t(1) << device : 0;
  if (bit && (done.load() & bit)) return cudaSuccess;
  e = cudaFuncSetAttribute(reinterpret_cast<const void*>(LinearWideKernel<T>), cudaFuncAttributeMaxDynamicSharedMemorySize,
                           int(kWideSharedBytes));
  if (e == cudaSuccess) done.fetch_or(bit);
  return e;
}

}  // namespace

template <typename T>
cudaError_t LaunchLinear(const T* x, const T* w, const float* bias, T* y, int m, int n, int k, Epilogue epilogue,
                         cudaStream_t stream, LinearLibrary* library, const T* bias_same_type) {
  if (m == 0 || n == 0) return cudaSuccess;
  if (library && library->active()) {
    if (bias && !bias_same_type) return cudaErrorInvalidValue;  // a caller that did not upload it
    const bool fused_gelu = epilogue == Epilogue::kBiasGelu && bias && library->tanh_gelu();
    cudaError_t e = library->Matmul(x, w, bias ? bias_same_type : nullptr, y, m, n, k, stream, fused_gelu);
    if (e != cudaSuccess || epilogue != Epilogue::kBiasGelu || fused_gelu) return e;
    const size_t count = size_t(m) * n;
    const int threads = 256, blocks = int(std::min<size_t>((count / 8 + threads) / threads, 65536));
    GeluInPlaceKernel<T><<<blocks, threads, 0, stream>>>(y, count);
    return cudaGetLastError();
  }
  // The 128 x 128 kernels copy X and W and write Y and read the bias 16 bytes (8 elements) at
  // a time: every row must start 16-byte aligned (N and K multiples of 8, aligned buffers),
  // and then a chunk is wholly inside K or past it, which the copy zero-fills. (A 312-wide
  // TinyBERT qualifies; a multiple of 16 is not needed.)
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const bool wide_access = n % 8 == 0 && k % 8 == 0 && aligned(x) && aligned(w) && aligned(y) && aligned(bias);
  const GemmKernel kernel = wide_access ? ChosenKernel() : GemmKernel::kWmma64;
  if (kernel == GemmKernel::kPipelined) {
    dim3 grid((n + kBig - 1) / kBig, (m + kBig - 1) / kBig);
    LinearPipelinedKernel<T><<<grid, kBigWarps * 32, 0, stream>>>(x, w, bias, y, m, n, k, static_cast<int>(epilogue));
  } else if (kernel == GemmKernel::kWide) {
    cudaError_t e = OptInWideShared<T>();
    if (e != cudaSuccess) return e;
    dim3 grid((n + kBig - 1) / kBig, (m + kBig - 1) / kBig);
    LinearWideKernel<T><<<grid, kWideWarps * 32, kWideSharedBytes, stream>>>(x, w, bias, y, m, n, k,
                                                                         static_cast<int>(epilogue));
  } else if (n >= 16) {  // element-wise tile loads and stores: any shape
    dim3 grid((n + kTile - 1) / kTile, (m + kTile - 1) / kTile);
    LinearWmmaKernel<T><<<grid, kWarps * 32, 0, stream>>>(x, w, bias, y, m, n, k, static_cast<int>(epilogue));
  } else {
    const int threads = 256;
    LinearSimpleKernel<T><<<(m * n + threads - 1) / threads, threads, 0, stream>>>(x, w, bias, y, m, n, k,
                                                                                static_cast<int>(epilogue));
  }
  return cudaGetLastError();
}

template cudaError_t LaunchLinear<__half>(const __half*, const __half*, const float*, __half*, int, int, int, Epilogue,
                                          cudaStream_t, LinearLibrary*, const __half*);
template cudaError_t LaunchLinear<__nv_bfloat16>(const __nv_bfloat16*, const __nv_bfloat16*, const float*,
                                                 __nv_bfloat16*, int, int, int, Epilogue, cudaStream_t,
                                                 LinearLibrary*, const __nv_bfloat16*);

}  // namespace crossrank::cuda
