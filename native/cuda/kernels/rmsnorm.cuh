// RMSNorm on the decoder's residual stream: x (fp32, [rows x dim]) += delta (fp16, may be
// null), then out = x / sqrt(mean(x^2) + eps) * gamma as fp16 for the next projection.
// Keeping the residual stream in fp32 avoids the fp16 overflow large decoders are known for.
// CPU reference: ref::RmsNorm (native/reference/decoder_ops.cc).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

// T: __half or __nv_bfloat16 (delta and out).
template <typename T>
cudaError_t LaunchAddRmsNorm(float* x, const T* delta, const float* gamma, int rows, int dim, float eps, T* out,
                             cudaStream_t stream);

}  // namespace crossrank::cuda
