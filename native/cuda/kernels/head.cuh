// The fused final step: for each sequence, its first token -> tanh(dense) -> classifier,
// in fp32, writing raw logits [num_seqs x num_labels] (the activation runs in the score head).
// CPU reference: the head of EncoderForwardReference.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

// T: the encoder's element type (__half or __nv_bfloat16).
template <typename T>
struct HeadParams {
  const T* dense_w;      // [hidden x hidden]
  const float* dense_b;  // [hidden]
  const T* out_w;        // [num_labels x hidden]
  const float* out_b;     // [num_labels]
  int hidden;
  int num_labels;
};

template <typename T>
cudaError_t LaunchHead(const HeadParams<T>& p, const T* hidden_states, const int* cu_seqlens, int num_seqs,
                       float* logits, cudaStream_t stream);

}  // namespace crossrank::cuda
