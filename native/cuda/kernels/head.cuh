// The fused final step: for each sequence, its first token -> tanh(dense) -> classifier,
// in fp32, writing raw logits [num_seqs x num_labels] (the activation runs in the score head).
// CPU reference: the head of EncoderForwardReference.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

struct HeadParams {
  const __half* dense_w;  // [hidden x hidden]
  const float* dense_b;   // [hidden]
  const __half* out_w;    // [num_labels x hidden]
  const float* out_b;     // [num_labels]
  int hidden;
  int num_labels;
};

cudaError_t LaunchHead(const HeadParams& p, const __half* hidden_states, const int* cu_seqlens, int num_seqs,
                       float* logits, cudaStream_t stream);

}  // namespace crossrank::cuda
