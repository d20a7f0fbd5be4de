// What the tensor-core attention kernels (attention_tensor_core.cu, attention_mma.cu) share:
// their launches in chunks of sequences, the keys a block of query rows sees, and copying
// rows of one head into shared memory.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cuda/kernels/async_copy.cuh"
#include "cuda/kernels/attention_tensor_core.cuh"

namespace crossrank::cuda {

// f(std::integral_constant<int, D>{}) for the head dims D the kernels are built for (16, 32,
// 64, 128; TensorCoreAttentionSupports), cudaErrorInvalidValue for any other.
template <typename F>
cudaError_t WithHeadDim(int head_dim, F f) {
  switch (head_dim) {
    case 16: return f(std::integral_constant<int, 16>{});
    case 32: return f(std::integral_constant<int, 32>{});
    case 64: return f(std::integral_constant<int, 64>{});
    case 128: return f(std::integral_constant<int, 128>{});
    default: return cudaErrorInvalidValue;
  }
}

// launch(chunk, grid) for each run of at most kMaxSequencesPerLaunch sequences, with grid =
// (blocks of rows_per_block query rows over the longest sequence, heads, the chunk's sequences).
template <typename T, typename LaunchFn>
cudaError_t LaunchBySequenceChunks(const AttentionProblem<T>& a, int rows_per_block, LaunchFn launch) {
  for (int first = 0; first < a.num_seqs; first += kMaxSequencesPerLaunch) {
    const AttentionProblem<T> chunk = SequenceChunk(a, first, std::min(kMaxSequencesPerLaunch, a.num_seqs - first));
    launch(chunk, dim3((a.max_seqlen + rows_per_block - 1) / rows_per_block, a.heads, chunk.num_seqs));
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

// The keys and values one block of query rows [row0, row0 + rows) of a sequence sees, one
// key/value head: its cached prefix's (if any), then the sequence's own.
template <typename T>
struct BlockKeys {
  const T *own_k, *own_v;        // the sequence's first row, at the head's columns
  const T *prefix_k, *prefix_v;  // the prefix's first row (null: no prefix)
  int prefix_len;
  int count;  // keys seen by some row of the block: causal rows stop at the block's last row
};

template <typename T>
__device__ __forceinline__ BlockKeys<T> KeysOfBlock(const AttentionProblem<T>& a, int seq, int kv_head, int start,
                                                    int len, int row0, int rows) {
  const size_t kv_col = static_cast<size_t>(kv_head) * a.head_dim;
  BlockKeys<T> b{a.k + start * a.kv_stride + kv_col, a.v + start * a.kv_stride + kv_col, nullptr, nullptr, 0, 0};
  const int prefix = a.prefix_of ? a.prefix_of[seq] : -1;
  if (prefix >= 0) {
    const int p0 = a.prefix_cu[prefix];
    b.prefix_len = a.prefix_cu[prefix + 1] - p0;
    b.prefix_k = a.prefix_k + p0 * a.kv_stride + kv_col;
    b.prefix_v = a.prefix_v + p0 * a.kv_stride + kv_col;
  }
  const int last_row = len < row0 + rows ? len : row0 + rows;  // exclusive
  b.count = b.prefix_len + (a.causal ? last_row : len);
  return b;
}

// Rows j0 .. j0 + rows of one head (kDim elements each, 16-byte chunks) of a sequence made of
// `prefix_len` rows of `prefix` followed by the rows of `own`, zero past `count`, by the block's
// kThreads threads: copy(destination chunk, source chunk or null for a zero row) for each chunk
// of dst (rows kLd elements apart).
template <int kDim, int kLd, int kThreads, typename T, typename Copy>
__device__ __forceinline__ void ForEachHeadChunk(T* dst, int rows, const T* __restrict__ prefix, int prefix_len,
                                                 const T* __restrict__ own, size_t stride, int j0, int count,
                                                 Copy copy) {
  constexpr int kChunks = kDim / 8;
  for (int c = threadIdx.x; c < rows * kChunks; c += kThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8, j = j0 + r;
    const T* row = j >= count ? nullptr : j < prefix_len ? prefix + j * stride : own + (j - prefix_len) * stride;
    copy(dst + r * kLd + col, row ? row + col : nullptr);
  }
}

// Keys or values of a key tile (the prefix's first), or the block's queries (no prefix), into
// shared memory. Zero keys and values beyond the visible ones keep the masked products finite
// (0 * NaN would not be).
template <int kDim, int kLd, int kThreads, typename T>
__device__ __forceinline__ void StageHeadRows(T* dst, int rows, const T* __restrict__ prefix, int prefix_len,
                                             const T* __restrict__ own, size_t stride, int j0, int count) {
  ForEachHeadChunk<kDim, kLd, kThreads>(dst, rows, prefix, prefix_len, own, stride, j0, count, [](T* to, const T* from) {
    *reinterpret_cast<uint4*>(to) = from ? *reinterpret_cast<const uint4*>(from) : make_uint4(0, 0, 0, 0);
  });
}

// The same with cp.async: landed once each thread has waited for the group (async_copy.cuh) and
// the block has met at a barrier. Zero rows read nothing (their source is `own`, a valid address).
template <int kDim, int kLd, int kThreads, typename T>
__device__ __forceinline__ void StageHeadRowsAsync(T* dst, int rows, const T* __restrict__ prefix, int prefix_len,
                                                   const T* __restrict__ own, size_t stride, int j0, int count) {
  ForEachHeadChunk<kDim, kLd, kThreads>(dst, rows, prefix, prefix_len, own, stride, j0, count,
                                        [own](T* to, const T* from) { CpAsync16(to, from ? from : own, from ? 16 : 0); });
}

}  // namespace crossrank::cuda
