// How the models' entry points (forward.cu, decoder.cu) report a failed CUDA step: a status
// code of the C ABI and "CUDA <step>: <reason>" in the caller's buffer. Clears the error so
// later calls start clean.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdio>

#include "cuda/api.h"

namespace crossrank::cuda {

inline int ModelStatus(cudaError_t e, const char* what, char* message, size_t len) {
  if (message && len) snprintf(message, len, "CUDA %s: %s", what, cudaGetErrorString(e));
  cudaGetLastError();
  return e == cudaErrorMemoryAllocation ? CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY : CROSSRANK_CUDA_STATUS_ERROR;
}

}  // namespace crossrank::cuda
