// Attention on tensor cores (WMMA fp16 or bf16, fp32 accumulation) for head dims 16, 32, 64 and 128:
// the encoder's and the decoder's default (see attention_tensor_core.cuh for the problem).
//
// A block takes 64 query rows of one sequence and one head, four warps of 16 rows each,
// and walks the keys the rows can see (the cached prefix's, then the sequence's own) in
// tiles staged in shared memory. Two passes over the keys: the first finds each row's
// softmax maximum and sum, the second computes P = exp(S - max) and accumulates P V in the
// warps' accumulator fragments. Recomputing S = Q K^T once more costs a third more
// tensor-core work on a small part of the forward pass, and in exchange the output never
// leaves registers to be rescaled: with WMMA the accumulator's element layout is opaque, so
// the one-pass (online) form would round-trip it through shared memory on every key tile.
#include <mma.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/kernels/attention_mma.cuh"
#include "cuda/kernels/attention_staging.cuh"
#include "cuda/kernels/attention_tensor_core.cuh"

namespace crossrank::cuda {
namespace {

using namespace nvcuda;

constexpr int kRowsPerWarp = 16, kWarps = 4, kRowsPerBlock = kRowsPerWarp * kWarps;

template <int kDim>
struct Tiles {
  static constexpr int kKeys = kDim <= 64 ? 64 : 32;  // keys per tile: keeps shared memory < 48 KB
  static constexpr int kLdKv = kDim + 8;               // padded rows: fewer bank conflicts, 32-byte aligned
  static constexpr int kLdS = kKeys + 4;
  static constexpr int kLdP = kKeys + 8;
  // The K and V tiles sit back to back; before the key loop the same space stages Q.
  static_assert(2 * kKeys >= kRowsPerBlock, "the K/V space must hold the block's Q rows");
};

template <int kDim, typename T>
__device__ __forceinline__ void StageRows(T* dst, int rows, const T* __restrict__ prefix, int prefix_len,
                                          const T* __restrict__ own, size_t stride, int j0, int count) {
  StageHeadRows<kDim, Tiles<kDim>::kLdKv, kWarps * 32>(dst, rows, prefix, prefix_len, own, stride, j0, count);
}

template <typename T, int kDim>
__global__ void __launch_bounds__(kWarps * 32) TensorCoreAttentionKernel(AttentionProblem<T> a, float scale) {
  using L = Tiles<kDim>;
  constexpr int kKeys = L::kKeys;
  __shared__ __align__(128) T kv[2 * kKeys * L::kLdKv];
  __shared__ __align__(128) float s_all[kWarps][kRowsPerWarp * L::kLdS];
  __shared__ __align__(128) T p_all[kWarps][kRowsPerWarp * L::kLdP];
  __shared__ float row_sum_all[kWarps][kRowsPerWarp];

  const int seq = blockIdx.z, head = blockIdx.y, kv_head = head / (a.heads / a.kv_heads);
  const int start = a.cu_seqlens[seq], len = a.cu_seqlens[seq + 1] - start;
  const int row0 = blockIdx.x * kRowsPerBlock;
  if (row0 >= len) return;  // the grid covers the longest sequence; the whole block leaves together
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* s = s_all[warp];
  T* p = p_all[warp];

  const BlockKeys<T> seen = KeysOfBlock(a, seq, kv_head, start, len, row0, kRowsPerBlock);
  const T *own_k = seen.own_k, *own_v = seen.own_v, *prefix_k = seen.prefix_k, *prefix_v = seen.prefix_v;
  const int prefix_len = seen.prefix_len, keys = seen.count;

  // Q: the block's rows staged through the K/V space, then kept as fragments in registers.
  const T* q_rows = a.q + (start + row0) * a.q_stride + static_cast<size_t>(head) * kDim;
  StageRows<kDim, T>(kv, kRowsPerBlock, nullptr, 0, q_rows, a.q_stride, 0, len - row0);
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> q_frag[kDim / 16];
#pragma unroll
  for (int d = 0; d < kDim / 16; ++d) {
    wmma::load_matrix_sync(q_frag[d], kv + warp * kRowsPerWarp * L::kLdKv + 16 * d, L::kLdKv);
  }
  __syncthreads();

  // Scores of this warp's 16 rows against the key tile in kv[0 .. kKeys), into s (fp32).
  auto scores = [&]() {
#pragma unroll
    for (int n = 0; n < kKeys / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int d = 0; d < kDim / 16; ++d) {
        // K [keys x dim] row-major is K^T [dim x keys] column-major.
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> k_frag;
        wmma::load_matrix_sync(k_frag, kv + 16 * n * L::kLdKv + 16 * d, L::kLdKv);
        wmma::mma_sync(acc, q_frag[d], k_frag, acc);
      }
      wmma::store_matrix_sync(s + 16 * n, acc, L::kLdS, wmma::mem_row_major);
    }
    __syncwarp();
  };

  // Two lanes per row, taking alternate columns (rows r and r + 8 then share banks: 2-way
  // conflicts, where halves of a row would make it 4-way). A row sees keys [0, visible).
  const int row = lane / 2, c0 = lane % 2, i = row0 + warp * kRowsPerWarp + row;
  const int visible = a.causal && prefix_len + i + 1 < keys ? prefix_len + i + 1 : keys;
  float row_max = -INFINITY, row_sum = 0.0f;

  // Pass 1: each row's maximum and sum of exp(score - maximum), online over the key tiles.
  for (int j0 = 0; j0 < keys; j0 += kKeys) {
    StageRows<kDim>(kv, kKeys, prefix_k, prefix_len, own_k, a.kv_stride, j0, keys);
    __syncthreads();
    scores();
    float tile_max = -INFINITY;
    for (int c = c0; c < kKeys; c += 2) {
      if (j0 + c < visible) tile_max = fmaxf(tile_max, s[row * L::kLdS + c] * scale);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    // Finite from the first tile on: key 0 is visible to every row.
    const float new_max = fmaxf(row_max, tile_max);
    float sum = 0.0f;
    for (int c = c0; c < kKeys; c += 2) {
      if (j0 + c < visible) sum += __expf(s[row * L::kLdS + c] * scale - new_max);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    row_sum = row_sum * __expf(row_max - new_max) + sum;
    row_max = new_max;
    __syncthreads();  // every warp is done with this K tile before the next one lands
  }
  if (c0 == 0) row_sum_all[warp][row] = row_sum;

  // Pass 2: P = exp(S - max) in T (every entry <= 1), O += P V in fp32 fragments.
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> out[kDim / 16];
#pragma unroll
  for (int d = 0; d < kDim / 16; ++d) wmma::fill_fragment(out[d], 0.0f);
  T* v_tile = kv + kKeys * L::kLdKv;
  for (int j0 = 0; j0 < keys; j0 += kKeys) {
    StageRows<kDim>(kv, kKeys, prefix_k, prefix_len, own_k, a.kv_stride, j0, keys);
    StageRows<kDim>(v_tile, kKeys, prefix_v, prefix_len, own_v, a.kv_stride, j0, keys);
    __syncthreads();
    scores();
    for (int c = c0; c < kKeys; c += 2) {
      const float e = j0 + c < visible ? __expf(s[row * L::kLdS + c] * scale - row_max) : 0.0f;
      p[row * L::kLdP + c] = FromFloat<T>(e);
    }
    __syncwarp();
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> p_frag;
      wmma::load_matrix_sync(p_frag, p + 16 * kk, L::kLdP);
#pragma unroll
      for (int d = 0; d < kDim / 16; ++d) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> v_frag;
        wmma::load_matrix_sync(v_frag, v_tile + 16 * kk * L::kLdKv + 16 * d, L::kLdKv);
        wmma::mma_sync(out[d], p_frag, v_frag, out[d]);
      }
    }
    __syncthreads();
  }

  // Out through a 16 x 16 fp32 square of the warp's score space, divided by the row sums.
  const int first_row = row0 + warp * kRowsPerWarp;
  T* ctx = a.ctx + static_cast<size_t>(head) * kDim;
#pragma unroll
  for (int d = 0; d < kDim / 16; ++d) {
    wmma::store_matrix_sync(s, out[d], 16, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) {
      const int r = e / 16, t = first_row + r;
      if (t < len) ctx[(start + t) * a.ctx_stride + 16 * d + e % 16] = FromFloat<T>(s[e] / row_sum_all[warp][r]);
    }
    __syncwarp();
  }
}

template <typename T, int kDim>
cudaError_t Launch(const AttentionProblem<T>& a, cudaStream_t stream) {
  const float scale = 1.0f / sqrtf(static_cast<float>(kDim));
  return LaunchBySequenceChunks(a, kRowsPerBlock, [&](const AttentionProblem<T>& chunk, dim3 grid) {
    TensorCoreAttentionKernel<T, kDim><<<grid, kWarps * 32, 0, stream>>>(chunk, scale);
  });
}

template <typename T>
bool RowsAligned(const T* base, size_t stride) {
  return !base || (reinterpret_cast<uintptr_t>(base) % 16 == 0 && stride % 8 == 0);
}

}  // namespace

bool WarpAttentionForced() {
  const char* v = std::getenv("CROSSRANK_CUDA_ATTENTION");
  return v && std::strcmp(v, "warp") == 0;
}

template <typename T>
bool TensorCoreAttentionSupports(const AttentionProblem<T>& a) {
  const bool dim_ok = a.head_dim == 16 || a.head_dim == 32 || a.head_dim == 64 || a.head_dim == 128;
  // 16-byte loads of each head's row need every row start 16-byte aligned.
  return dim_ok && RowsAligned(a.q, a.q_stride) && RowsAligned(a.k, a.kv_stride) && RowsAligned(a.v, a.kv_stride) &&
         RowsAligned(a.prefix_k, a.kv_stride) && RowsAligned(a.prefix_v, a.kv_stride) && a.kv_heads > 0 &&
         a.heads % a.kv_heads == 0 && a.heads <= 65535;
}

template <typename T>
cudaError_t LaunchTensorCoreAttention(const AttentionProblem<T>& a, cudaStream_t stream) {
  if (a.num_seqs == 0 || a.max_seqlen == 0) return cudaSuccess;
  if (MmaAttentionChosen()) return LaunchMmaAttention(a, stream);
  return WithHeadDim(a.head_dim, [&](auto dim) { return Launch<T, decltype(dim)::value>(a, stream); });
}

template bool TensorCoreAttentionSupports(const AttentionProblem<__half>&);
template bool TensorCoreAttentionSupports(const AttentionProblem<__nv_bfloat16>&);
template cudaError_t LaunchTensorCoreAttention(const AttentionProblem<__half>&, cudaStream_t);
template cudaError_t LaunchTensorCoreAttention(const AttentionProblem<__nv_bfloat16>&, cudaStream_t);

}  // namespace crossrank::cuda
