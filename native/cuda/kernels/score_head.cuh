// Score-head activation on the GPU (one thread per scored pair).
// CPU reference: native/reference/score_head.cc; checked by native/tests/cuda_ops.cc.
#pragma once

#include <cuda_runtime.h>
#include <cstdint>

namespace crossrank::cuda {

// logits (device): rows x num_labels; out (device): rows. Same semantics as
// ScoreHeadReference: infinities clamped, NaN rows reported through *nan_row (device,
// initialised to -1 by the caller; the smallest NaN row index is kept).
cudaError_t LaunchScoreHead(const float* logits, int64_t rows, int32_t num_labels, int32_t activation,
                            int32_t positive_index, float* out, int64_t* nan_row, cudaStream_t stream);

// Whether the current device can run this library's kernels: cudaErrorNoKernelImageForDevice
// (or cudaErrorInvalidDeviceFunction) when the build holds no code for its architecture nor
// PTX it can compile (a card older than the architectures built). Asked of one kernel: all are
// built alike.
cudaError_t KernelImageStatus();

}  // namespace crossrank::cuda
