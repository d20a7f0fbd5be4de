// Elementwise steps of the decoder: the token embedding gather into the fp32 residual
// stream, and SwiGLU between the fused gate/up projection and the down projection.
// CPU references: the embedding copy in native/reference/decoder_forward.cc, ref::SwiGlu.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

// T: __half or __nv_bfloat16.
// x[t] = table[ids[t]] (16-bit rows of width dim -> fp32); ids are validated by the caller.
template <typename T>
cudaError_t LaunchGatherRows(const T* table, const int* ids, int tokens, int dim, float* x, cudaStream_t stream);

// out[t, i] = SiLU(gate_up[t, i]) * gate_up[t, inter + i]
template <typename T>
cudaError_t LaunchSwiGlu(const T* gate_up, int tokens, int inter, T* out, cudaStream_t stream);

}  // namespace crossrank::cuda
