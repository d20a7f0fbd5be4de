#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/kernels/elementwise.cuh"

namespace crossrank::cuda {
namespace {

template <typename T>
__global__ void GatherRowsKernel(const T* __restrict__ table, const int* __restrict__ ids, int dim,
                                 float* __restrict__ x) {
  const T* row = table + static_cast<size_t>(ids[blockIdx.x]) * dim;
  float* out = x + static_cast<size_t>(blockIdx.x) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) out[i] = ToFloat(row[i]);
}

template <typename T>
__global__ void SwiGluKernel(const T* __restrict__ gate_up, int tokens, int inter, T* __restrict__ out) {
  const size_t n = static_cast<size_t>(tokens) * inter;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t t = idx / inter, i = idx % inter;
    const float g = ToFloat(gate_up[t * 2 * inter + i]), u = ToFloat(gate_up[t * 2 * inter + inter + i]);
    out[idx] = FromFloat<T>(g / (1.0f + __expf(-g)) * u);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchGatherRows(const T* table, const int* ids, int tokens, int dim, float* x, cudaStream_t stream) {
  if (tokens == 0) return cudaSuccess;
  GatherRowsKernel<T><<<tokens, 256, 0, stream>>>(table, ids, dim, x);
  return cudaGetLastError();
}

template <typename T>
cudaError_t LaunchSwiGlu(const T* gate_up, int tokens, int inter, T* out, cudaStream_t stream) {
  if (tokens == 0 || inter == 0) return cudaSuccess;
  const size_t n = static_cast<size_t>(tokens) * inter;
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<size_t>((n + threads - 1) / threads, 65536));
  SwiGluKernel<T><<<blocks, threads, 0, stream>>>(gate_up, tokens, inter, out);
  return cudaGetLastError();
}

template cudaError_t LaunchGatherRows(const __half*, const int*, int, int, float*, cudaStream_t);
template cudaError_t LaunchGatherRows(const __nv_bfloat16*, const int*, int, int, float*, cudaStream_t);
template cudaError_t LaunchSwiGlu(const __half*, int, int, __half*, cudaStream_t);
template cudaError_t LaunchSwiGlu(const __nv_bfloat16*, int, int, __nv_bfloat16*, cudaStream_t);

}  // namespace crossrank::cuda
