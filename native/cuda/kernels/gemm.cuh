// Linear layers on tensor cores: Y[M x N] = X[M x K] W^T + b (W [N x K] as PyTorch stores
// it), fp16 or bf16 inputs and output (T), fp32 accumulation, optional exact GELU in the
// epilogue.
// CPU reference: ref::LinearForward (+ ref::Gelu), native/reference/encoder_ops.cc.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

enum class Epilogue { kBias = 0, kBiasGelu = 1 };

class LinearLibrary;  // kernels/linear_library.cuh

// bias: fp32, length n, or null for none. With an active `library` (cuBLASLt,
// CROSSRANK_CUDA_GEMM=cublaslt) the product runs there instead, reading `bias_same_type`, the
// bias in T (required when bias is set), and exact GELU follows as a pass of its own (the
// library's GELU epilogue is the tanh approximation, used instead with CROSSRANK_CUDA_GELU=tanh:
// LinearLibrary::tanh_gelu). Otherwise: any shape. N and K multiples of 8 with 16-byte aligned
// buffers take the 128 x 128 tensor-core kernels (rows copied 16 bytes at a time); other shapes
// of N >= 16 the 64 x 64 tensor-core kernel (element-wise, zero-padded tiles); narrower outputs
// (a classifier) a plain fallback. T: __half or __nv_bfloat16.
template <typename T>
cudaError_t LaunchLinear(const T* x, const T* w, const float* bias, T* y, int m, int n, int k, Epilogue epilogue,
                         cudaStream_t stream, LinearLibrary* library = nullptr, const T* bias_same_type = nullptr);

}  // namespace crossrank::cuda
