// Embeddings of a packed batch: word + position + token type, then LayerNorm, fp16 out.
// Positions restart at each sequence (BERT: 0, 1, ...; RoBERTa: pad+1, ... skipping pads).
// CPU reference: the embedding step of EncoderForwardReference.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

struct EmbeddingParams {
  const __half* word;      // [vocab x hidden]
  const __half* position;  // [max_positions x hidden]
  const __half* type;      // [type_vocab x hidden]
  const float* gamma;
  const float* beta;
  int hidden;
  float eps;
  bool roberta;
  int pad_token_id;
};

// token_ids, type_ids: [total]; positions: [total] computed on the host per sequence.
cudaError_t LaunchEmbedding(const EmbeddingParams& p, const int* token_ids, const int* type_ids, const int* positions,
                            int total, __half* out, cudaStream_t stream);

}  // namespace crossrank::cuda
