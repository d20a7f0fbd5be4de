#include "cuda/common.cuh"
#include "cuda/kernels/head.cuh"

namespace crossrank::cuda {
namespace {

// One block per sequence: the first token's row in shared memory, one thread per dense
// output, then one warp per label.
template <typename T>
__global__ void HeadKernel(HeadParams<T> p, const T* __restrict__ hidden_states, const int* __restrict__ cu_seqlens,
                           float* __restrict__ logits) {
  extern __shared__ float shared[];
  float* first = shared;             // [hidden]
  float* pooled = shared + p.hidden;  // [hidden]
  const int s = blockIdx.x;
  const T* row = hidden_states + static_cast<size_t>(cu_seqlens[s]) * p.hidden;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) first[i] = ToFloat(row[i]);
  __syncthreads();
  for (int j = threadIdx.x; j < p.hidden; j += blockDim.x) {
    const T* w = p.dense_w + static_cast<size_t>(j) * p.hidden;
    float acc = 0;
    for (int i = 0; i < p.hidden; ++i) acc += first[i] * ToFloat(w[i]);
    pooled[j] = tanhf(acc + p.dense_b[j]);
  }
  __syncthreads();
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  for (int label = warp; label < p.num_labels; label += warps) {
    const T* w = p.out_w + static_cast<size_t>(label) * p.hidden;
    float acc = 0;
    for (int i = lane; i < p.hidden; i += 32) acc += pooled[i] * ToFloat(w[i]);
    acc = WarpSum(acc);
    if (lane == 0) logits[static_cast<size_t>(s) * p.num_labels + label] = acc + p.out_b[label];
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchHead(const HeadParams<T>& p, const T* hidden_states, const int* cu_seqlens, int num_seqs,
                       float* logits, cudaStream_t stream) {
  if (num_seqs == 0) return cudaSuccess;
  HeadKernel<T><<<num_seqs, 256, 2 * p.hidden * sizeof(float), stream>>>(p, hidden_states, cu_seqlens, logits);
  return cudaGetLastError();
}

template cudaError_t LaunchHead(const HeadParams<__half>&, const __half*, const int*, int, float*, cudaStream_t);
template cudaError_t LaunchHead(const HeadParams<__nv_bfloat16>&, const __nv_bfloat16*, const int*, int, float*,
                                cudaStream_t);

}  // namespace crossrank::cuda
