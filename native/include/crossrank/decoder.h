// Decoder rerankers (Qwen3ForCausalLM: Qwen3-Reranker 0.6B/4B/8B): configuration, weights
// read from model.safetensors, and the plain C++ reference forward pass that computes the
// output layer only for the two answer tokens ("yes", "no") at the last position — never the
// vocabulary. A query's shared prompt prefix can be run once and its key/value cache reused
// for every document (DecoderBatch prefixes); results equal running each prompt whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crossrank/batch.h"
#include "crossrank/cuda_element.h"
#include "crossrank/load_progress.h"
#include "crossrank/encoder.h"
#include "crossrank/status.h"

namespace crossrank {

class TensorSource;
class ThreadPool;

struct DecoderConfig {
  int32_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_layers = 0;
  int32_t num_heads = 0, num_kv_heads = 0, head_dim = 0, max_positions = 0;
  float rms_norm_eps = 1e-6f;
  double rope_theta = 1e6;
  bool tie_word_embeddings = true;

  Status Validate() const;
  // The weights as the CPU reference holds them (fp32, the output layer's `answers` rows only),
  // in bytes: what loading it takes.
  uint64_t HostWeightBytes(size_t answers) const;
};

// Reads a Qwen3 config.json's fields (transformers' names and defaults), then validates.
Status DecoderConfigFromJson(const std::string& text, DecoderConfig* out);

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
Status LoadDecoderWeights(const TensorSource& source, const DecoderConfig& config, const std::vector<int32_t>& answer_ids,
                          DecoderWeights* out, const LoadProgress& progress = LoadProgress());

// Key/value cache of the tokens run so far: per layer [tokens x kv_heads x head_dim].
struct KvCache {
  int32_t length = 0;
  std::vector<std::vector<float>> k, v;
};

// A batch of prompts, each either whole or continuing one of the batch's prefixes (a query's
// frame + instruction + query, run once): `sequences` holds each prompt's own tokens (all of
// them, or what follows its prefix), `prefix_of[s]` its prefix or -1.
struct DecoderBatch {
  std::vector<int32_t> prefix_ids;      // the prefixes, concatenated
  std::vector<int32_t> prefix_cu{0};    // [num_prefixes + 1]
  PackedBatch sequences;                // type_ids unused (zeros)
  std::vector<int32_t> prefix_of;       // [num_seqs]

  int32_t num_prefixes() const { return static_cast<int32_t>(prefix_cu.size()) - 1; }
  int32_t prefix_length(int32_t p) const { return p < 0 ? 0 : prefix_cu[p + 1] - prefix_cu[p]; }
  // Appends a prefix and returns its index.
  int32_t AddPrefix(const std::vector<int32_t>& ids);
  // Appends a sequence continuing prefix `prefix` (-1: a whole prompt).
  void AddSequence(const int32_t* ids, size_t n, int32_t prefix);
};

// Shapes, prefix indices, token ids within the vocabulary, prefix + sequence within
// max_position_embeddings.
Status ValidateDecoderBatch(const DecoderBatch& batch, const DecoderConfig& config);

// The plain C++ forward pass (native/reference/decoder_forward.cc): answer logits
// [num_seqs x answers] at each sequence's last token. Each prefix runs once and its cache is
// reused by the sequences that continue it; results equal running every prompt whole, bitwise.
// Consecutive sequences of up to `step_tokens` tokens together (at least one sequence) go
// through each weight matrix at once: the weights are read once per step, not per sequence,
// and only a step's key/value caches are held at a time. The results do not depend on it.
inline constexpr size_t kDecoderStepTokens = 512;
Status DecoderScoreReference(const DecoderConfig& config, const DecoderWeights& weights, const DecoderBatch& batch,
                             ThreadPool& pool, std::vector<float>* out, size_t step_tokens = kDecoderStepTokens);

class DecoderModel {
 public:
  // safetensors_path: model.safetensors, or a sharded checkpoint's model.safetensors.index.json.
  // device -1: the CPU reference with `threads` threads; device >= 0: the CUDA backend on that
  // GPU in `element_type` (weights uploaded once, host copies released).
  static Status Load(const std::string& safetensors_path, const DecoderConfig& config,
                     const std::vector<int32_t>& answer_ids, int threads, int device, CudaElementType element_type,
                     std::unique_ptr<DecoderModel>* out, const LoadProgress& progress = LoadProgress());
  ~DecoderModel();

  const DecoderConfig& config() const { return config_; }
  int32_t num_answers() const { return num_answers_; }
  int device() const { return device_; }
  // Thread-safe: one batch at a time per model.
  Status Score(const DecoderBatch& batch, std::vector<float>* out);

 private:
  DecoderModel() = default;
  DecoderConfig config_;
  DecoderWeights weights_;
  int32_t num_answers_ = 0;
  std::unique_ptr<ThreadPool> pool_;
  std::mutex mutex_;
  int device_ = -1;
  CudaElementType element_type_ = CudaElementType::kBf16;
  void* cuda_decoder_ = nullptr;
};

}  // namespace crossrank
