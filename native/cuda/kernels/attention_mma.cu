// One-pass attention on tensor cores with PTX mma.sync (kernels/mma.cuh): the same problem,
// grid and 64-row blocks as the WMMA kernel (attention_tensor_core.cu), which walks the keys
// twice — once for each row's softmax maximum and sum, once for P V — because WMMA's opaque
// accumulators cannot be rescaled in place. Here the fragment layout is known, so each key
// tile is read once (flash attention's online softmax): S = Q K^T stays in registers, each
// row's running maximum and sum are updated, the output accumulators are rescaled where the
// maximum grew, and P, packed to 16 bits in registers, is the A operand of P V. Scores never
// touch shared memory; the K^T products are half the WMMA kernel's.
//
// A block: 64 query rows of one sequence and head, 4 warps of 16 rows. Lane (g, t) = (lane / 4,
// lane % 4) holds rows g and g + 8 of its warp's 16, and of every 8-column tile of S and of
// the output the columns 2t and 2t + 1 (mma.cuh). Key tiles of 64, K and V row-major in shared
// memory, rows padded by 8 elements so that the eight 16-byte rows of each ldmatrix phase fall
// in distinct banks; K's fragments are read with ldmatrix, V's with ldmatrix.trans.
//
// The tiles are filled with cp.async as in flash attention 2: V of a tile is copied while S is
// computed from its K, and K of the next tile while P V is computed, so one buffer of each is
// enough. A warp whose 16 rows are all past the sequence (the last block of most sequences:
// TREC DL passages of ~100 tokens fill 1.6 blocks), or that sees none of a tile's keys (causal
// rows), skips the products but still copies and meets the block at every barrier.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/kernels/attention_mma.cuh"
#include "cuda/kernels/async_copy.cuh"
#include "cuda/kernels/attention_staging.cuh"
#include "cuda/kernels/mma.cuh"

namespace crossrank::cuda {
namespace {

constexpr int kWarps = 4, kRowsPerWarp = 16, kRowsPerBlock = kWarps * kRowsPerWarp, kKeys = 64;

template <int kDim>
constexpr int kLd = kDim + 8;

static_assert(kRowsPerBlock <= kKeys, "a block's queries are staged in V's tile buffer");

// At least 3 blocks per SM: ptxas then keeps every head dim free of spills (168 registers at 128).
template <typename T, int kDim>
__global__ void __launch_bounds__(kWarps * 32, 3) MmaAttentionKernel(AttentionProblem<T> a, float scale) {
  constexpr int kDimTiles = kDim / 8, kDimChunks = kDim / 16, kKeyTiles = kKeys / 8;
  __shared__ __align__(16) T k_tile[kKeys * kLd<kDim>];
  __shared__ __align__(16) T v_tile[kKeys * kLd<kDim>];

  const int seq = blockIdx.z, head = blockIdx.y, kv_head = head / (a.heads / a.kv_heads);
  const int start = a.cu_seqlens[seq], len = a.cu_seqlens[seq + 1] - start;
  const int row0 = blockIdx.x * kRowsPerBlock;
  if (row0 >= len) return;  // the grid covers the longest sequence; the whole block leaves together
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;

  const BlockKeys<T> seen = KeysOfBlock(a, seq, kv_head, start, len, row0, kRowsPerBlock);
  const T *own_k = seen.own_k, *own_v = seen.own_v, *prefix_k = seen.prefix_k, *prefix_v = seen.prefix_v;
  const int prefix_len = seen.prefix_len, keys = seen.count;

  // This lane's two rows (index within the sequence) and the keys each sees: [0, visible).
  int row[2], visible[2];
  for (int h = 0; h < 2; ++h) {
    row[h] = row0 + warp * kRowsPerWarp + g + 8 * h;
    visible[h] = a.causal && prefix_len + row[h] + 1 < keys ? prefix_len + row[h] + 1 : keys;
  }

  float out[kDimTiles][4];
#pragma unroll
  for (int d = 0; d < kDimTiles; ++d) out[d][0] = out[d][1] = out[d][2] = out[d][3] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};  // row_sum: this lane's columns only

  // Rows of this warp inside the sequence, and the keys its last such row sees.
  const int warp_row0 = row0 + warp * kRowsPerWarp;
  const int warp_rows_end = len < warp_row0 + kRowsPerWarp ? len : warp_row0 + kRowsPerWarp;
  const int warp_keys = a.causal && prefix_len + warp_rows_end < keys ? prefix_len + warp_rows_end : keys;
  const bool warp_has_rows = warp_row0 < len;

  // Lanes 8i .. 8i + 7 address matrix i of each ldmatrix (mma.cuh): for K, key tiles n, n + 1
  // (matrices 0-1, 2-3) at dims 16c and 16c + 8; for V, keys 16m and 16m + 8 (0, 1; 2, 3) of
  // dim tiles d, d + 1.
  const int matrix = lane / 8, matrix_row = lane % 8;
  const T* k_lane = k_tile + (8 * (matrix / 2) + matrix_row) * kLd<kDim> + 8 * (matrix % 2);
  const T* v_lane = v_tile + (8 * (matrix % 2) + matrix_row) * kLd<kDim> + 8 * (matrix / 2);

  auto stage = [&](T* tile, const T* prefix, const T* own, int j0) {
    StageHeadRowsAsync<kDim, kLd<kDim>, kWarps * 32>(tile, kKeys, prefix, prefix_len, own, a.kv_stride, j0, keys);
    CpAsyncCommit();
  };
  // The block's queries land in V's buffer with the first K tile (rows past the sequence are
  // 0); each warp takes its A fragments with ldmatrix (matrices: rows 0-7 and 8-15 of its 16,
  // at dims 16c and 16c + 8), then the first V tile replaces them.
  const T* q_block = a.q + static_cast<size_t>(start + row0) * a.q_stride + static_cast<size_t>(head) * kDim;
  StageHeadRowsAsync<kDim, kLd<kDim>, kWarps * 32>(v_tile, kRowsPerBlock, static_cast<const T*>(nullptr), 0, q_block,
                                                   a.q_stride, 0, len - row0);
  stage(k_tile, prefix_k, own_k, 0);  // one group with the queries
  CpAsyncWait<0>();
  __syncthreads();
  uint32_t qa[kDimChunks][4];
  const T* q_lane = v_tile + (warp * kRowsPerWarp + 8 * (matrix % 2) + matrix_row) * kLd<kDim> + 8 * (matrix / 2);
#pragma unroll
  for (int c = 0; c < kDimChunks; ++c) LdMatrixX4<false>(qa[c], q_lane + 16 * c);
  __syncthreads();  // every warp has its queries before V's copy overwrites them
  stage(v_tile, prefix_v, own_v, 0);

  for (int j0 = 0; j0 < keys; j0 += kKeys) {
    const bool next = j0 + kKeys < keys, active = warp_has_rows && j0 < warp_keys;
    CpAsyncWait<1>();  // this tile's K has landed (its V may still be in flight)
    __syncthreads();

    float s[kKeyTiles][4];
    if (active) {
      // S = Q K^T for this warp's 16 rows and the tile's 64 keys (8 tiles of 8 keys, two per ldmatrix).
#pragma unroll
      for (int n = 0; n < kKeyTiles; n += 2) {
#pragma unroll
        for (int i = 0; i < 4; ++i) s[n][i] = s[n + 1][i] = 0.0f;
#pragma unroll
        for (int c = 0; c < kDimChunks; ++c) {
          uint32_t kb[4];
          LdMatrixX4<false>(kb, k_lane + 8 * n * kLd<kDim> + 16 * c);
          const uint32_t b0[2] = {kb[0], kb[1]}, b1[2] = {kb[2], kb[3]};
          Mma16816<T>(s[n], qa[c], b0);
          Mma16816<T>(s[n + 1], qa[c], b1);
        }
      }

      // Online softmax: scale, mask, each row's new maximum over its 4 lanes, rescale.
      float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int n = 0; n < kKeyTiles; ++n) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int h = i / 2, key = j0 + 8 * n + 2 * t + i % 2;
          s[n][i] = key < visible[h] ? s[n][i] * scale : -INFINITY;
          tile_max[h] = fmaxf(tile_max[h], s[n][i]);
        }
      }
      float rescale[2];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        tile_max[h] = fmaxf(tile_max[h], __shfl_xor_sync(0xffffffffu, tile_max[h], 1));
        tile_max[h] = fmaxf(tile_max[h], __shfl_xor_sync(0xffffffffu, tile_max[h], 2));
        // Finite from the first tile on: key 0 is visible to every row (past-the-end rows too).
        const float new_max = fmaxf(row_max[h], tile_max[h]);
        rescale[h] = __expf(row_max[h] - new_max);  // 0 on the first tile
        row_max[h] = new_max;
        row_sum[h] *= rescale[h];
      }
#pragma unroll
      for (int d = 0; d < kDimTiles; ++d) {
        out[d][0] *= rescale[0];
        out[d][1] *= rescale[0];
        out[d][2] *= rescale[1];
        out[d][3] *= rescale[1];
      }
    }

    CpAsyncWait<0>();  // this tile's V has landed
    __syncthreads();   // ... for every thread, and every warp is done with K
    if (next) stage(k_tile, prefix_k, own_k, j0 + kKeys);

    if (active) {
      // P = exp(S - max), summed in fp32 and packed to T; O += P V, 16 keys at a time: the score
      // tiles 2m and 2m + 1 are, register for register, the A fragment of keys 16m .. 16m + 15.
#pragma unroll
      for (int m = 0; m < kKeyTiles / 2; ++m) {
        float p[2][4];
#pragma unroll
        for (int half = 0; half < 2; ++half) {
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            p[half][i] = __expf(s[2 * m + half][i] - row_max[i / 2]);  // exp(-inf) = 0: masked keys
            row_sum[i / 2] += p[half][i];
          }
        }
        const uint32_t pa[4] = {PackFloats<T>(p[0][0], p[0][1]), PackFloats<T>(p[0][2], p[0][3]),
                                PackFloats<T>(p[1][0], p[1][1]), PackFloats<T>(p[1][2], p[1][3])};
        // B[k = key][n = dim]: V's rows 16m .. 16m + 15, dim tiles d and d + 1 per ldmatrix.trans.
#pragma unroll
        for (int d = 0; d < kDimTiles; d += 2) {
          uint32_t vb[4];
          LdMatrixX4<true>(vb, v_lane + 16 * m * kLd<kDim> + 8 * d);
          const uint32_t b0[2] = {vb[0], vb[1]}, b1[2] = {vb[2], vb[3]};
          Mma16816<T>(out[d], pa, b0);
          Mma16816<T>(out[d + 1], pa, b1);
        }
      }
    }
    __syncthreads();  // every warp is done with V before the next tile's lands there
    if (next) stage(v_tile, prefix_v, own_v, j0 + kKeys);
  }

  // Each row's sum over its 4 lanes, then the output: columns 2t, 2t + 1 of each 8-wide tile.
  T* ctx = a.ctx + static_cast<size_t>(head) * kDim + 2 * t;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float sum = row_sum[h];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    if (row[h] >= len) continue;
    const float inv = 1.0f / sum;
    T* dst = ctx + static_cast<size_t>(start + row[h]) * a.ctx_stride;
#pragma unroll
    for (int d = 0; d < kDimTiles; ++d) {
      *reinterpret_cast<uint32_t*>(dst + 8 * d) = PackFloats<T>(out[d][2 * h] * inv, out[d][2 * h + 1] * inv);
    }
  }
}

template <typename T, int kDim>
cudaError_t Launch(const AttentionProblem<T>& a, cudaStream_t stream) {
  const float scale = 1.0f / sqrtf(static_cast<float>(kDim));
  return LaunchBySequenceChunks(a, kRowsPerBlock, [&](const AttentionProblem<T>& chunk, dim3 grid) {
    MmaAttentionKernel<T, kDim><<<grid, kWarps * 32, 0, stream>>>(chunk, scale);
  });
}

}  // namespace

bool MmaAttentionChosen() {
  const char* v = std::getenv("CROSSRANK_CUDA_ATTENTION");
  return v && std::strcmp(v, "mma") == 0;
}

template <typename T>
cudaError_t LaunchMmaAttention(const AttentionProblem<T>& a, cudaStream_t stream) {
  if (a.num_seqs == 0 || a.max_seqlen == 0) return cudaSuccess;
  return WithHeadDim(a.head_dim, [&](auto dim) { return Launch<T, decltype(dim)::value>(a, stream); });
}

template cudaError_t LaunchMmaAttention(const AttentionProblem<__half>&, cudaStream_t);
template cudaError_t LaunchMmaAttention(const AttentionProblem<__nv_bfloat16>&, cudaStream_t);

}  // namespace crossrank::cuda
