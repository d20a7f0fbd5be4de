#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/kernels/elementwise.cuh"

namespace crossrank::cuda {
namespace {

__global__ void GatherRowsKernel(const __half* __restrict__ table, const int* __restrict__ ids, int dim,
                                 float* __restrict__ x) {
  const __half* row = table + static_cast<size_t>(ids[blockIdx.x]) * dim;
  float* out = x + static_cast<size_t>(blockIdx.x) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) out[i] = __half2float(row[i]);
}

__global__ void SwiGluKernel(const __half* __restrict__ gate_up, int tokens, int inter, __half* __restrict__ out) {
  const size_t n = static_cast<size_t>(tokens) * inter;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t t = idx / inter, i = idx % inter;
    const float g = __half2float(gate_up[t * 2 * inter + i]), u = __half2float(gate_up[t * 2 * inter + inter + i]);
    out[idx] = __float2half(g / (1.0f + __expf(-g)) * u);
  }
}

}  // namespace

cudaError_t LaunchGatherRows(const __half* table, const int* ids, int tokens, int dim, float* x, cudaStream_t stream) {
  if (tokens == 0) return cudaSuccess;
  GatherRowsKernel<<<tokens, 256, 0, stream>>>(table, ids, dim, x);
  return cudaGetLastError();
}

cudaError_t LaunchSwiGlu(const __half* gate_up, int tokens, int inter, __half* out, cudaStream_t stream) {
  if (tokens == 0 || inter == 0) return cudaSuccess;
  const size_t n = static_cast<size_t>(tokens) * inter;
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<size_t>((n + threads - 1) / threads, 65536));
  SwiGluKernel<<<blocks, threads, 0, stream>>>(gate_up, tokens, inter, out);
  return cudaGetLastError();
}

}  // namespace crossrank::cuda
