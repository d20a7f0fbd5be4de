#include "cuda/common.cuh"
#include "cuda/kernels/answer_head.cuh"

namespace crossrank::cuda {
namespace {

// One block per sequence; hidden <= 8192 (its normalised row is staged in shared memory).
constexpr int kMaxHidden = 8192;

template <typename T>
__global__ void AnswerHeadKernel(AnswerHeadParams<T> p, float* __restrict__ logits) {
  __shared__ float row[kMaxHidden];
  const size_t base = static_cast<size_t>(p.last[blockIdx.x]) * p.hidden;
  float sq = 0;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) {
    const float v = p.x[base + i] + (p.delta ? ToFloat(p.delta[base + i]) : 0.0f);
    row[i] = v;
    sq += v * v;
  }
  const float inv = rsqrtf(BlockSum(sq) / p.hidden + p.eps);  // BlockSum synchronises: row is complete
  for (int a = 0; a < p.num_answers; ++a) {
    const float* w = p.answer + static_cast<size_t>(a) * p.hidden;
    float dot = 0;
    for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) dot += row[i] * inv * p.norm[i] * w[i];
    const float total = BlockSum(dot);
    if (threadIdx.x == 0) logits[static_cast<size_t>(blockIdx.x) * p.num_answers + a] = total;
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchAnswerHead(const AnswerHeadParams<T>& p, float* logits, cudaStream_t stream) {
  if (p.num_seqs == 0) return cudaSuccess;
  if (p.hidden > kMaxHidden) return cudaErrorInvalidValue;
  AnswerHeadKernel<T><<<p.num_seqs, 256, 0, stream>>>(p, logits);
  return cudaGetLastError();
}

template cudaError_t LaunchAnswerHead(const AnswerHeadParams<__half>&, float*, cudaStream_t);
template cudaError_t LaunchAnswerHead(const AnswerHeadParams<__nv_bfloat16>&, float*, cudaStream_t);

}  // namespace crossrank::cuda
