// Shared helpers of the CUDA ops: 16-bit element conversion and warp reductions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

// The two 16-bit element types of the forward passes' matrices and activations: fp16 (the
// encoders; three more mantissa bits) and bf16 (the decoders' default: fp32's exponent range,
// the type LLM checkpoints are trained and shipped in, whose activations can pass fp16's
// largest value, 65,504). Kernels that take either are templates over T, instantiated for both.
__host__ __device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }
__host__ __device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__host__ __device__ __forceinline__ T FromFloat(float v);
template <>
__host__ __device__ __forceinline__ __half FromFloat<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__host__ __device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

__device__ __forceinline__ float WarpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float WarpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the whole block (blockDim.x a multiple of 32); every thread gets the result.
// Safe to call repeatedly: it synchronises before its shared slots are reused.
__device__ __forceinline__ float BlockSum(float v) {
  __shared__ float partial[32];
  __shared__ float total;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = WarpSum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < warps ? partial[lane] : 0.0f;
    t = WarpSum(t);
    if (lane == 0) total = t;
  }
  __syncthreads();
  const float result = total;
  __syncthreads();
  return result;
}

}  // namespace crossrank::cuda
