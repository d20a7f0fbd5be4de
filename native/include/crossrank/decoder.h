// Decoder rerankers (Qwen3ForCausalLM: Qwen3-Reranker 0.6B/4B/8B): configuration, weights
// read from model.safetensors, and the plain C++ reference forward pass that computes the
// output layer only for the two answer tokens ("yes", "no") at the last position — never the
// vocabulary. A query's shared prompt prefix can be run once and its key/value cache reused
// for every document (DecoderScoreShared); results equal running each prompt whole.
#pragma once

#include <cstdint>
#include <vector>

#include "crossrank/batch.h"
#include "crossrank/encoder.h"
#include "crossrank/status.h"

namespace crossrank {

class SafetensorsFile;
class ThreadPool;

struct DecoderConfig {
  int32_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_layers = 0;
  int32_t num_heads = 0, num_kv_heads = 0, head_dim = 0, max_positions = 0;
  float rms_norm_eps = 1e-6f;
  double rope_theta = 1e6;
  bool tie_word_embeddings = true;

  Status Validate() const;
};

struct DecoderLayerWeights {
  std::vector<float> input_norm, post_norm, q_norm, k_norm;
  Linear q, k, v, o, gate, up, down;  // no biases in Qwen3: zero bias vectors
};

struct DecoderWeights {
  std::vector<float> embed;  // [vocab x hidden]
  std::vector<DecoderLayerWeights> layers;
  std::vector<float> final_norm;
  Linear answer;  // the output layer's rows for the answer tokens: [2 x hidden]
};

// Reads every tensor the config implies (transformers' names) and keeps, of the output layer,
// only the rows of `answer_ids` (lm_head, or the embeddings when tied).
Status LoadDecoderWeights(const SafetensorsFile& file, const DecoderConfig& config, const std::vector<int32_t>& answer_ids,
                          DecoderWeights* out);

// Key/value cache of the tokens run so far: per layer [tokens x kv_heads x head_dim].
struct KvCache {
  int32_t length = 0;
  std::vector<std::vector<float>> k, v;
};

// Whole prompts, each on its own: answer logits [num_seqs x 2] at each sequence's last token.
Status DecoderScoreFull(const DecoderConfig& config, const DecoderWeights& weights, const PackedBatch& batch,
                        ThreadPool& pool, std::vector<float>* out);

// One prefix (run once, its cache reused) and continuations (document + closing frame) that
// follow it: answer logits [num_continuations x 2] at each continuation's last token.
Status DecoderScoreShared(const DecoderConfig& config, const DecoderWeights& weights, const std::vector<int32_t>& prefix,
                          const PackedBatch& continuations, ThreadPool& pool, std::vector<float>* out);

}  // namespace crossrank
