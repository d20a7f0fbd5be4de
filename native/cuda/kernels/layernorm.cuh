// Fused residual add + LayerNorm: x = LayerNorm(x + residual) over rows of width `dim`,
// fp16 in and out, fp32 statistics. CPU reference: ref::AddLayerNorm.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

cudaError_t LaunchAddLayerNorm(__half* x, const __half* residual, const float* gamma, const float* beta, int rows,
                               int dim, float eps, cudaStream_t stream);

}  // namespace crossrank::cuda
