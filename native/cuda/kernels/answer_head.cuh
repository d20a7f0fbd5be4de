// The decoder's last step, per sequence: the residual stream at its last token (plus the
// last layer's pending delta), the final RMSNorm, and the answer rows of the output layer
// ("yes", "no"), in fp32. The vocabulary is never computed.
// CPU reference: Answer() in native/reference/decoder_forward.cc (ref::RmsNorm + a dot
// product per answer row).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

// T: __half or __nv_bfloat16 (the delta).
template <typename T>
struct AnswerHeadParams {
  const float* x;        // [rows x hidden] residual stream
  const T* delta;        // [rows x hidden], added before the norm; may be null
  const int* last;       // [num_seqs]: row of each sequence's last token
  const float* norm;     // [hidden]
  const float* answer;   // [num_answers x hidden]
  int num_seqs, hidden, num_answers;
  float eps;
};

// logits [num_seqs x num_answers]
template <typename T>
cudaError_t LaunchAnswerHead(const AnswerHeadParams<T>& p, float* logits, cudaStream_t stream);

}  // namespace crossrank::cuda
