// Fused residual add + LayerNorm: x = LayerNorm(x + residual) over rows of width `dim`,
// 16-bit in and out (T: __half or __nv_bfloat16), fp32 statistics. CPU reference: ref::AddLayerNorm.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

template <typename T>
cudaError_t LaunchAddLayerNorm(T* x, const T* residual, const float* gamma, const float* beta, int rows,
                               int dim, float eps, cudaStream_t stream);

}  // namespace crossrank::cuda
