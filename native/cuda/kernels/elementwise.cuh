// Elementwise steps of the decoder: the token embedding gather into the fp32 residual
// stream, and SwiGLU between the fused gate/up projection and the down projection.
// CPU references: the embedding copy in native/reference/decoder_forward.cc, ref::SwiGlu.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

// x[t] = table[ids[t]] (fp16 rows of width dim -> fp32); ids are validated by the caller.
cudaError_t LaunchGatherRows(const __half* table, const int* ids, int tokens, int dim, float* x, cudaStream_t stream);

// out[t, i] = SiLU(gate_up[t, i]) * gate_up[t, inter + i]
cudaError_t LaunchSwiGlu(const __half* gate_up, int tokens, int inter, __half* out, cudaStream_t stream);

}  // namespace crossrank::cuda
