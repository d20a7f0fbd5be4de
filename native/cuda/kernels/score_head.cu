#include "cuda/kernels/score_head.cuh"

#include <cfloat>

namespace crossrank::cuda {
namespace {

__device__ __forceinline__ float Clamp(float x) { return fmaxf(-FLT_MAX, fminf(FLT_MAX, x)); }

__global__ void ScoreHeadKernel(const float* __restrict__ logits, int64_t rows, int32_t num_labels,
                                int32_t activation, int32_t positive_index, float* __restrict__ out,
                                unsigned long long* __restrict__ nan_row) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (r >= rows) return;
  const float* row = logits + r * num_labels;
  for (int32_t j = 0; j < num_labels; ++j) {
    if (isnan(row[j])) {
      atomicMin(nan_row, static_cast<unsigned long long>(r));
      out[r] = 0.f;
      return;
    }
  }
  float score;
  if (activation == 0) {          // identity
    score = Clamp(row[positive_index]);
  } else if (activation == 1) {   // sigmoid, computed in double as the reference does
    score = static_cast<float>(1.0 / (1.0 + exp(-static_cast<double>(Clamp(row[0])))));
  } else {                        // softmax over the row
    float max = -FLT_MAX;
    for (int32_t j = 0; j < num_labels; ++j) max = fmaxf(max, Clamp(row[j]));
    double sum = 0;
    for (int32_t j = 0; j < num_labels; ++j) sum += exp(static_cast<double>(Clamp(row[j])) - max);
    score = static_cast<float>(exp(static_cast<double>(Clamp(row[positive_index])) - max) / sum);
  }
  out[r] = score;
}

}  // namespace

cudaError_t LaunchScoreHead(const float* logits, int64_t rows, int32_t num_labels, int32_t activation,
                            int32_t positive_index, float* out, int64_t* nan_row, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const int64_t blocks = (rows + kThreads - 1) / kThreads;
  ScoreHeadKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      logits, rows, num_labels, activation, positive_index, out, reinterpret_cast<unsigned long long*>(nan_row));
  return cudaGetLastError();
}

cudaError_t KernelImageStatus() {
  cudaFuncAttributes attributes;
  return cudaFuncGetAttributes(&attributes, reinterpret_cast<const void*>(ScoreHeadKernel));
}

}  // namespace crossrank::cuda
