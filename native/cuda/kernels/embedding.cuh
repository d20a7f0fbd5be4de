// Embeddings of a packed batch: word + position + token type, then LayerNorm, 16-bit out
// (T: __half or __nv_bfloat16, the encoder's element type).
// Positions restart at each sequence (BERT: 0, 1, ...; RoBERTa: pad+1, ... skipping pads).
// CPU reference: the embedding step of EncoderForwardReference.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

template <typename T>
struct EmbeddingParams {
  const T* word;      // [vocab x hidden]
  const T* position;  // [max_positions x hidden]
  const T* type;      // [type_vocab x hidden]
  const float* gamma;
  const float* beta;
  int hidden;
  float eps;
  bool roberta;
  int pad_token_id;
};

// token_ids, type_ids: [total]; positions: [total] computed on the host per sequence.
template <typename T>
cudaError_t LaunchEmbedding(const EmbeddingParams<T>& p, const int* token_ids, const int* type_ids, const int* positions,
                            int total, T* out, cudaStream_t stream);

}  // namespace crossrank::cuda
