// Checks of the CPU emulation itself (native/cuda/emu): that it computes what CUDA would on
// correct kernels, and that it reports the faults it claims to catch instead of passing them.
//
//   crossrank_cuda_emu_selftest          prints one line per check, exits non-zero on any failure
//   crossrank_cuda_emu_selftest --race   runs a kernel with a missing barrier (a race-checking
//                                        build must report it; see scripts/sanitize.sh)
#include <mma.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/kernels/async_copy.cuh"
#include "cuda/kernels/mma.cuh"

namespace {

using namespace nvcuda;

__global__ void BlockSumKernel(float* out) {
  const float total = crossrank::cuda::BlockSum(static_cast<float>(threadIdx.x));
  if (threadIdx.x == 0) out[blockIdx.x] = total + blockIdx.x;
}

__global__ void ShuffleKernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x) * 10, 31 - static_cast<int>(threadIdx.x) % 32);
}

__global__ void WmmaKernel(const __half* a, const __half* b, float* c, int offset) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, a + offset, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

__global__ void DivergentBarrierKernel(int* out) {
  if (threadIdx.x < 16) __syncwarp();
  else __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void ShuffleFromExitedLaneKernel(int* out) {
  if (threadIdx.x == 5) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 5);
}

// ldmatrix of four 8 x 8 matrices whose element (i, row, col) is 1000 i + 10 row + col, as
// 16-bit integers: out[lane * 8 + 2 i + h] is the lane's register i, low half h.
template <bool kTranspose>
__global__ void LdMatrixKernel(uint16_t* out) {
  __shared__ __align__(16) uint16_t matrices[4 * 8 * 8];
  for (int e = threadIdx.x; e < 4 * 64; e += 32) matrices[e] = uint16_t(1000 * (e / 64) + 10 * (e / 8 % 8) + e % 8);
  __syncwarp();
  uint32_t r[4];
  crossrank::cuda::LdMatrixX4<kTranspose>(r, matrices + 8 * threadIdx.x);  // lanes 8i + j: matrix i, row j
  memcpy(out + 8 * threadIdx.x, r, sizeof r);
}

// cp.async: each thread copies 16 bytes of 2s over its shared slot of 1s and reads the slot
// before its wait and after it: out[2 i] before, out[2 i + 1] after.
__global__ void AsyncCopyKernel(const uint4* twos, int* out) {
  __shared__ __align__(16) uint4 slots[32];
  slots[threadIdx.x] = make_uint4(1, 1, 1, 1);
  CpAsync16(&slots[threadIdx.x], &twos[threadIdx.x], 16);
  CpAsyncCommit();
  out[2 * threadIdx.x] = static_cast<int>(slots[threadIdx.x].x);
  CpAsyncWait<0>();
  out[2 * threadIdx.x + 1] = static_cast<int>(slots[threadIdx.x].w);
}

// Dynamic shared memory: thread i writes slot i, then reads the last thread's slot.
__global__ void DynamicSharedKernel(int* out) {
  extern __shared__ __align__(128) int dynamic_slots[];
  dynamic_slots[threadIdx.x] = static_cast<int>(threadIdx.x) + 1;
  __syncthreads();
  out[threadIdx.x] = dynamic_slots[blockDim.x - 1] + (reinterpret_cast<uintptr_t>(dynamic_slots) % 128 == 0 ? 0 : 1000);
}

// Each thread reads its neighbour's shared slot with no barrier after the writes: a race on
// a GPU, and what a race-checking build (scripts/sanitize.sh --race) must report.
__global__ void MissingBarrierKernel(int* out) {
  __shared__ int slots[64];
  slots[threadIdx.x] = static_cast<int>(threadIdx.x);
  out[threadIdx.x] = slots[(threadIdx.x + 1) % 64];
}

int failures = 0;

void Check(bool ok, const char* what) {
  std::printf("%-72s %s\n", what, ok ? "OK" : "FAILED");
  if (!ok) ++failures;
}

template <typename T>
T* Device(size_t n) {
  void* p = nullptr;
  cudaMalloc(&p, n * sizeof(T));
  return static_cast<T*>(p);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--race") == 0) {  // for the race checker only
    int* out = Device<int>(64);
    MissingBarrierKernel<<<1, 64>>>(out);
    return cudaDeviceSynchronize() == cudaSuccess ? 0 : 1;
  }
  float* sums = Device<float>(3);
  BlockSumKernel<<<3, 256>>>(sums);
  float host_sums[3];
  cudaMemcpy(host_sums, sums, sizeof host_sums, cudaMemcpyDeviceToHost);
  Check(cudaDeviceSynchronize() == cudaSuccess && host_sums[0] == 32640.f && host_sums[2] == 32642.f,
        "block sum over 256 threads (warp shuffles + __syncthreads)");

  int* ints = Device<int>(64);
  ShuffleKernel<<<1, 64>>>(ints);
  int host_ints[64];
  cudaMemcpy(host_ints, ints, sizeof host_ints, cudaMemcpyDeviceToHost);
  Check(cudaGetLastError() == cudaSuccess && host_ints[0] == 310 && host_ints[31] == 0 && host_ints[32] == 630 &&
            host_ints[63] == 320,
        "__shfl_sync reads the source lane of its own warp");

  std::vector<__half> a(16 * 16 + 8), b(16 * 16);
  for (int i = 0; i < 16 * 16; ++i) a[i] = __float2half(i % 16 == i / 16 ? 1.f : 0.f), b[i] = __float2half(float(i % 7));
  __half* da = Device<__half>(a.size());
  __half* db = Device<__half>(b.size());
  float* dc = Device<float>(256);
  cudaMemcpy(da, a.data(), a.size() * sizeof(__half), cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), b.size() * sizeof(__half), cudaMemcpyHostToDevice);
  WmmaKernel<<<1, 32>>>(da, db, dc, 0);
  float c[256];
  cudaMemcpy(c, dc, sizeof c, cudaMemcpyDeviceToHost);
  // identity x B, with B read column-major: c[r][col] = b[col * 16 + r]
  Check(cudaGetLastError() == cudaSuccess && c[1 * 16 + 2] == float((2 * 16 + 1) % 7) && c[15 * 16 + 0] == float(15 % 7),
        "wmma: identity times B (col-major) gives B transposed back");

  WmmaKernel<<<1, 32>>>(da, db, dc, 1);
  Check(cudaDeviceSynchronize() == cudaErrorLaunchFailure, "fault: wmma load from a pointer not 32-byte aligned");

  DivergentBarrierKernel<<<1, 32>>>(ints);
  Check(cudaDeviceSynchronize() == cudaErrorLaunchFailure, "fault: __syncwarp and __syncthreads reached by different lanes");

  ShuffleFromExitedLaneKernel<<<1, 32>>>(ints);
  Check(cudaDeviceSynchronize() == cudaErrorLaunchFailure, "fault: shuffle reads a lane that has exited");

  BlockSumKernel<<<1, 2048>>>(sums);
  Check(cudaGetLastError() == cudaErrorInvalidConfiguration, "launch error: 2048 threads per block");

  BlockSumKernel<<<dim3(1, 70000), 32>>>(sums);
  Check(cudaGetLastError() == cudaErrorInvalidConfiguration, "launch error: grid y of 70000");

  // 60 KB of dynamic shared memory: refused as on a GPU until the kernel opts in.
  const size_t big = 60 << 10;
  DynamicSharedKernel<<<1, 64, big>>>(ints);
  Check(cudaGetLastError() == cudaErrorInvalidConfiguration, "launch error: 60 KB dynamic shared memory, no opt-in");
  Check(cudaFuncSetAttribute(reinterpret_cast<const void*>(DynamicSharedKernel), cudaFuncAttributeMaxDynamicSharedMemorySize,
                             int(big)) == cudaSuccess,
        "cudaFuncSetAttribute: opt in to 60 KB");
  DynamicSharedKernel<<<1, 64, big>>>(ints);
  cudaMemcpy(host_ints, ints, sizeof host_ints, cudaMemcpyDeviceToHost);
  Check(cudaGetLastError() == cudaSuccess && host_ints[0] == 64 && host_ints[63] == 64,
        "60 KB dynamic shared memory after opting in, 128-byte aligned");
  Check(cudaFuncSetAttribute(reinterpret_cast<const void*>(DynamicSharedKernel), cudaFuncAttributeMaxDynamicSharedMemorySize,
                             300 << 10) == cudaErrorInvalidValue,
        "cudaFuncSetAttribute: 300 KB is refused (over sm_90's 227 KB)");

  // ldmatrix: lane (g, t) gets row g, columns 2t, 2t + 1 of each matrix; transposed, rows
  // 2t, 2t + 1 of column g (the PTX ISA's layout, written out independently here).
  for (const bool transpose : {false, true}) {
    uint16_t* d_out = Device<uint16_t>(32 * 8);
    if (transpose) LdMatrixKernel<true><<<1, 32>>>(d_out);
    else LdMatrixKernel<false><<<1, 32>>>(d_out);
    uint16_t got[32 * 8];
    cudaMemcpy(got, d_out, sizeof got, cudaMemcpyDeviceToHost);
    bool same = cudaGetLastError() == cudaSuccess;
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane / 4, t = lane % 4;
      for (int i = 0; i < 4; ++i) {
        for (int h = 0; h < 2; ++h) {
          const int row = transpose ? 2 * t + h : g, col = transpose ? g : 2 * t + h;
          same = same && got[lane * 8 + 2 * i + h] == 1000 * i + 10 * row + col;
        }
      }
    }
    Check(same, transpose ? "ldmatrix.trans: lane (g, t) holds rows 2t, 2t + 1 of column g"
                          : "ldmatrix: lane (g, t) holds row g, columns 2t, 2t + 1");
    cudaFree(d_out);
  }

  // cp.async: landed at once, or (late) only at the wait; after the wait, always.
  std::vector<uint4> twos(32, make_uint4(2, 2, 2, 2));
  uint4* d_twos = Device<uint4>(32);
  cudaMemcpy(d_twos, twos.data(), 32 * sizeof(uint4), cudaMemcpyHostToDevice);
  for (const bool late : {false, true}) {
    crossrank_emu::SetLateAsyncCopies(late);
    AsyncCopyKernel<<<1, 32>>>(d_twos, ints);
    cudaMemcpy(host_ints, ints, sizeof host_ints, cudaMemcpyDeviceToHost);
    bool ok = cudaGetLastError() == cudaSuccess;
    for (int i = 0; i < 32; ++i) ok = ok && host_ints[2 * i] == (late ? 1 : 2) && host_ints[2 * i + 1] == 2;
    Check(ok, late ? "cp.async (late): the copy lands at the wait, not before" : "cp.async: the copy lands when issued");
  }
  crossrank_emu::SetLateAsyncCopies(false);
  cudaFree(d_twos);

  cudaFree(sums);
  cudaFree(ints);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  std::printf("%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
