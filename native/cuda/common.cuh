// Shared helpers of the CUDA ops: fp16 conversion and warp reductions.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

__device__ __forceinline__ float WarpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float WarpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace crossrank::cuda
