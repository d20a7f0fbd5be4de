#include "cuda/common.cuh"
#include "cuda/kernels/head.cuh"

namespace crossrank::cuda {
namespace {

// One block per sequence: the first token's row in shared memory, one thread per dense
// output, then one warp per label.
__global__ void HeadKernel(HeadParams p, const __half* __restrict__ hidden_states, const int* __restrict__ cu_seqlens,
                           float* __restrict__ logits) {
  extern __shared__ float shared[];
  float* first = shared;             // [hidden]
  float* pooled = shared + p.hidden;  // [hidden]
  const int s = blockIdx.x;
  const __half* row = hidden_states + static_cast<size_t>(cu_seqlens[s]) * p.hidden;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) first[i] = __half2float(row[i]);
  __syncthreads();
  for (int j = threadIdx.x; j < p.hidden; j += blockDim.x) {
    const __half* w = p.dense_w + static_cast<size_t>(j) * p.hidden;
    float acc = 0;
    for (int i = 0; i < p.hidden; ++i) acc += first[i] * __half2float(w[i]);
    pooled[j] = tanhf(acc + p.dense_b[j]);
  }
  __syncthreads();
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  for (int label = warp; label < p.num_labels; label += warps) {
    const __half* w = p.out_w + static_cast<size_t>(label) * p.hidden;
    float acc = 0;
    for (int i = lane; i < p.hidden; i += 32) acc += pooled[i] * __half2float(w[i]);
    acc = WarpSum(acc);
    if (lane == 0) logits[static_cast<size_t>(s) * p.num_labels + label] = acc + p.out_b[label];
  }
}

}  // namespace

cudaError_t LaunchHead(const HeadParams& p, const __half* hidden_states, const int* cu_seqlens, int num_seqs,
                       float* logits, cudaStream_t stream) {
  if (num_seqs == 0) return cudaSuccess;
  HeadKernel<<<num_seqs, 256, 2 * p.hidden * sizeof(float), stream>>>(p, hidden_states, cu_seqlens, logits);
  return cudaGetLastError();
}

}  // namespace crossrank::cuda
