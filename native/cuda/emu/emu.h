// A CPU emulation of the small part of CUDA that crossrank's kernels use, so the CUDA
// backend's logic (indexing, tiling edges, reductions, barriers, the forward passes' buffer
// plumbing) runs and is checked against the CPU reference on machines without a GPU.
//
// Every CUDA thread is a fiber; a block's fibers run on one OS thread, switching at
// __syncthreads, __syncwarp and warp shuffles, which are real barriers here. Blocks are
// spread over the CPU cores. The launch syntax and dynamic shared memory are rewritten by
// native/cuda/emu/rewrite.cmake; this header is force-included into every rewritten file.
//
// What it checks beyond the results: launch limits (block size, grid size, dynamic shared
// memory: 48 KB unless the kernel opted in to more with cudaFuncSetAttribute, as on a GPU),
// barriers that not every thread reaches, shuffles that read an exited lane, WMMA pointer
// alignment and leading dimensions; fresh device memory is filled with NaN so reads of
// unwritten data show, and in an address-sanitizer build (scripts/sanitize.sh) a kernel
// reading or writing past a device buffer is reported. cp.async copies land when they are
// issued, or with CROSSRANK_CUDA_EMU_CP_ASYNC=late at the last moment the PTX rules allow (the
// issuing thread's wait for their group): the first catches a copy into shared memory that is
// still being read, the second a read before the wait. What it cannot tell: speed, true races
// between threads, tensor-core rounding (products are summed in fp32).
// WMMA fragments are computed by lane 0 of the warp for the whole warp; code that reads a
// fragment's elements per lane would get wrong results here.
#pragma once

#ifndef CROSSRANK_CUDA_EMU
#error "emu.h is for the CPU emulation build (CROSSRANK_CUDA_EMU) only"
#endif

// Shared memory: one copy per OS thread, which runs one block at a time. Under the race
// checker (ThreadSanitizer) blocks run on one OS thread and shared memory is a plain static:
// GCC guards thread-locals of class type (__half) with a flag set on first use, which the
// checker would see written by one emulated thread and read by another.
#if defined(__SANITIZE_THREAD__)
#define __shared__ static
#else
#define __shared__ static thread_local
#endif

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

namespace crossrank_emu {

// What a CUDA thread can ask about itself and its block.
struct BlockState {
  uint3 block_idx;
  dim3 block_dim, grid_dim;
  void* dynamic_shared;
};
struct FiberState {
  uint3 thread_idx;
  int lane;
  const BlockState* block;
  void* fiber;  // the scheduler's record of this fiber
};

// Fiber stacks are aligned to their size and start with a pointer to the fiber's state, so
// the running thread finds itself from its stack pointer: no thread-local lookup (slow in
// a dlopen'd library) on every threadIdx.
constexpr size_t kFiberStackBytes = size_t(256) << 10;

inline const FiberState& Current() {
  const auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  return **reinterpret_cast<FiberState* const*>(sp & ~(uintptr_t(kFiberStackBytes) - 1));
}
inline uint3 BlockIdx() { return Current().block->block_idx; }
inline dim3 BlockDim() { return Current().block->block_dim; }
inline dim3 GridDim() { return Current().block->grid_dim; }
inline void* DynamicShared() { return Current().block->dynamic_shared; }

void SyncThreads();
void SyncWarp();
// Publishes this lane's 8-byte value to its warp and returns the value of `src_lane`.
uint64_t WarpExchange(uint64_t value, int src_lane);
// A warp-wide operation (e.g. an emulated mma.sync) in two barriers, not a shuffle per value:
// every lane publishes up to kGatherWords words (WarpPublish, a warp barrier), reads those of
// the lanes it needs (WarpPublished: valid until the next call below), then WarpPublishedDone
// (a barrier: no slot is overwritten before every lane has read).
constexpr int kGatherWords = 8;
void WarpPublish(const uint32_t* words, int count);
const uint32_t* WarpPublished(int lane);
void WarpPublishedDone();
// Records a fault in the running kernel (reported by the next synchronising call).
void Fault(const char* what);
// cp.async.cg of 16 bytes (src_bytes of them read, the rest zero), commit_group, wait_group n.
void AsyncCopy16(void* shared, const void* global, int src_bytes);
void AsyncCommit();
void AsyncWait(int pending_groups);
// Chooses when cp.async copies land (the self-test checks both; CROSSRANK_CUDA_EMU_CP_ASYNC otherwise).
void SetLateAsyncCopies(bool late);

struct LaunchConfig {
  dim3 grid, block;
  size_t dynamic_shared;
  const void* kernel;  // for its cudaFuncAttributeMaxDynamicSharedMemorySize
};
// Runs `body` once per thread of every block; returns the launch error.
cudaError_t RunGrid(const LaunchConfig& config, void (*body)(void*), void* context);

template <typename... Params>
class Launcher {
 public:
  Launcher(void (*kernel)(Params...), LaunchConfig config) : kernel_(kernel), config_(config) {}
  template <typename... Args>
  void operator()(Args&&... args) const {
    struct Context {
      void (*kernel)(Params...);
      std::tuple<std::decay_t<Params>...> params;
    } context{kernel_, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
    RunGrid(
        config_,
        [](void* c) {
          auto* ctx = static_cast<Context*>(c);
          auto params = ctx->params;  // each thread gets its own copy, as kernels take arguments by value
          std::apply(ctx->kernel, params);
        },
        &context);
  }

 private:
  void (*kernel_)(Params...);
  LaunchConfig config_;
};

// `Kernel<<<grid, block, shared, stream>>>(args)` is rewritten to
// `::crossrank_emu::Launch(Kernel, grid, block, shared, stream)(args)`.
template <typename... Params>
Launcher<Params...> Launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t dynamic_shared = 0,
                           cudaStream_t = nullptr) {
  return Launcher<Params...>(kernel, LaunchConfig{grid, block, dynamic_shared, reinterpret_cast<const void*>(kernel)});
}

template <typename T>
T Shuffle(T value, int src_lane) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a value wider than 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = WarpExchange(bits, src_lane);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

inline void RequireFullMask(unsigned mask) {
  if (mask != 0xffffffffu) Fault("warp intrinsic with a partial mask (not emulated)");
}

}  // namespace crossrank_emu

#define threadIdx (::crossrank_emu::Current().thread_idx)
#define blockIdx (::crossrank_emu::BlockIdx())
#define blockDim (::crossrank_emu::BlockDim())
#define gridDim (::crossrank_emu::GridDim())

inline void __syncthreads() { ::crossrank_emu::SyncThreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::crossrank_emu::RequireFullMask(mask);
  ::crossrank_emu::SyncWarp();
}
template <typename T>
T __shfl_sync(unsigned mask, T value, int src_lane, int width = 32) {
  ::crossrank_emu::RequireFullMask(mask);
  const int lane = ::crossrank_emu::Current().lane;
  return ::crossrank_emu::Shuffle(value, (lane & ~(width - 1)) + (src_lane & (width - 1)));
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
  ::crossrank_emu::RequireFullMask(mask);
  const int lane = ::crossrank_emu::Current().lane;
  const int src = lane ^ lane_mask;
  return ::crossrank_emu::Shuffle(value, (src & ~(width - 1)) == (lane & ~(width - 1)) ? src : lane);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
  ::crossrank_emu::RequireFullMask(mask);
  const int lane = ::crossrank_emu::Current().lane;
  const int src = lane + int(delta);
  return ::crossrank_emu::Shuffle(value, (src & ~(width - 1)) == (lane & ~(width - 1)) ? src : lane);
}

// Device math that has no global host declaration.
using std::isinf;
using std::isnan;
inline float __expf(float x) { return std::exp(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

inline unsigned long long atomicMin(unsigned long long* address, unsigned long long value) {
  unsigned long long old = __atomic_load_n(address, __ATOMIC_RELAXED);
  while (value < old && !__atomic_compare_exchange_n(address, &old, value, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}

// ---- WMMA ----------------------------------------------------------------------------
namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
template <typename Use, int M, int N, int K>
struct Shape;
template <int M, int N, int K>
struct Shape<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K>
struct Shape<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K>
struct Shape<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };

inline bool Leader() { return ::crossrank_emu::Current().lane == 0; }

template <typename T>
void CheckPointer(const T* p, unsigned ldm, const char* op) {
  // The PTX rules: 256-bit aligned pointers, ldm a multiple of 16 bytes.
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) ::crossrank_emu::Fault(op);
  if ((ldm * sizeof(T)) % 16 != 0) ::crossrank_emu::Fault(op);
}

inline float ToFloat(float v) { return v; }
inline float ToFloat(__half v) { return __half2float(v); }
inline float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static constexpr int rows = detail::Shape<Use, M, N, K>::rows, cols = detail::Shape<Use, M, N, K>::cols;
  float v[rows][cols];  // the whole tile, held by lane 0
};

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float value) {
  if (!detail::Leader()) return;
  for (auto& row : f.v)
    for (float& x : row) x = value;
}

template <typename Use, int M, int N, int K, typename T, typename Layout, typename P>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const P* p, unsigned ldm) {
  static_assert(!std::is_same<Layout, void>::value, "this load needs a layout argument");
  detail::CheckPointer(p, ldm, "wmma::load_matrix_sync: pointer not 32-byte aligned or ldm not a multiple of 16 bytes");
  if (!detail::Leader()) return;
  constexpr bool row = std::is_same<Layout, row_major>::value;
  for (int r = 0; r < f.rows; ++r)
    for (int c = 0; c < f.cols; ++c) f.v[r][c] = detail::ToFloat(row ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r]);
}

template <int M, int N, int K, typename T>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm, layout_t layout) {
  detail::CheckPointer(p, ldm, "wmma::load_matrix_sync: pointer not 32-byte aligned or ldm not a multiple of 16 bytes");
  if (!detail::Leader()) return;
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) f.v[r][c] = detail::ToFloat(layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r]);
}

template <int M, int N, int K, typename T>
void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout) {
  detail::CheckPointer(p, ldm, "wmma::store_matrix_sync: pointer not 32-byte aligned or ldm not a multiple of 16 bytes");
  if (!detail::Leader()) return;
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) (layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r]) = T(f.v[r][c]);
}

template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB, typename TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c) {
  if (!detail::Leader()) return;
  float out[M][N];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = c.v[i][j];
      for (int k = 0; k < K; ++k) s += a.v[i][k] * b.v[k][j];
      out[i][j] = s;
    }
  std::memcpy(d.v, out, sizeof out);
}

}  // namespace nvcuda::wmma
