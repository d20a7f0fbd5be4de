// BERT-family sequence classifiers (BertForSequenceClassification,
// XLMRobertaForSequenceClassification / RobertaForSequenceClassification): configuration,
// weights read from model.safetensors, and the model that runs a backend over them.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crossrank/batch.h"
#include "crossrank/cuda_element.h"
#include "crossrank/load_progress.h"
#include "crossrank/status.h"

namespace crossrank {

class TensorSource;
class ThreadPool;

enum class EncoderArch : int32_t { kBert = 0, kRoberta = 1 };

// From config.json (parsed and checked in TypeScript).
struct EncoderConfig {
  EncoderArch arch = EncoderArch::kBert;
  int32_t vocab_size = 0;
  int32_t hidden_size = 0;
  int32_t num_layers = 0;
  int32_t num_heads = 0;
  int32_t intermediate_size = 0;
  int32_t max_positions = 0;  // rows of the position table
  int32_t type_vocab_size = 0;
  int32_t num_labels = 1;
  float layer_norm_eps = 1e-12f;
  int32_t pad_token_id = 0;
  // A bare encoder (BertModel / XLMRobertaModel, as sentence-transformers bi-encoders save
  // them): parameters carry no "bert."/"roberta." prefix, there is no classifier, and the
  // forward pass returns the last hidden states [total_tokens x hidden] for pooling.
  bool bare = false;

  Status Validate() const;
  // The weights as the CPU reference holds them (fp32), in bytes: what loading it takes.
  uint64_t HostWeightBytes() const;
  // Longest sequence the position table allows (RoBERTa positions start past the padding id).
  int32_t max_sequence_length() const {
    return arch == EncoderArch::kRoberta ? max_positions - pad_token_id - 1 : max_positions;
  }
};

// y = x W^T + b with W [out, in] as PyTorch stores it.
struct Linear {
  int32_t out = 0, in = 0;
  std::vector<float> weight, bias;
};

struct LayerNormParams {
  std::vector<float> gamma, beta;
};

struct EncoderLayerWeights {
  Linear query, key, value, attention_out;
  LayerNormParams attention_norm;
  Linear intermediate, output;
  LayerNormParams output_norm;
};

struct EncoderWeights {
  std::vector<float> word_embeddings, position_embeddings, token_type_embeddings;
  LayerNormParams embedding_norm;
  std::vector<EncoderLayerWeights> layers;
  // The head on the first token: tanh(dense(x)), then the classifier.
  // BERT: bert.pooler.dense + classifier; RoBERTa: classifier.dense + classifier.out_proj.
  Linear head_dense, classifier;
};

// Reads and converts (F32/F16/BF16 -> fp32) every tensor the config implies, checking names
// and shapes; a missing tensor or a wrong shape is kModelLoad naming the tensor.
Status LoadEncoderWeights(const TensorSource& source, const EncoderConfig& config, EncoderWeights* out,
                          const LoadProgress& progress = LoadProgress());

// Position ids per token, as transformers computes them: BERT 0, 1, 2, ... per sequence;
// RoBERTa pad+1, pad+2, ... counting only non-pad tokens (a pad token keeps position pad).
void EncoderPositions(const EncoderConfig& config, const PackedBatch& batch, std::vector<int32_t>* positions);

// The plain C++ forward pass (native/reference/encoder_forward.cc): raw logits
// [num_seqs x num_labels] for a packed batch — or, for a bare encoder, the last hidden
// states [total_tokens x hidden_size].
Status EncoderForwardReference(const EncoderConfig& config, const EncoderWeights& weights, const PackedBatch& batch,
                               ThreadPool& pool, std::vector<float>* out);

class EncoderModel {
 public:
  // safetensors_path: model.safetensors, or a sharded checkpoint's model.safetensors.index.json.
  // device -1: the CPU reference with `threads` threads; device >= 0: the CUDA backend on
  // that GPU in `element_type` (weights uploaded once, host copies released).
  static Status Load(const std::string& safetensors_path, const EncoderConfig& config, int threads, int device,
                     CudaElementType element_type, std::unique_ptr<EncoderModel>* out,
                     const LoadProgress& progress = LoadProgress());
  ~EncoderModel();

  const EncoderConfig& config() const { return config_; }
  // Thread-safe: forwards run one at a time on the model's pool. Logits, or a bare
  // encoder's hidden states (see EncoderConfig::bare).
  Status Forward(const PackedBatch& batch, std::vector<float>* out);

 private:
  EncoderModel() = default;
  EncoderConfig config_;
  EncoderWeights weights_;
  std::unique_ptr<ThreadPool> pool_;
  std::mutex mutex_;
  int device_ = -1;
  CudaElementType element_type_ = CudaElementType::kFp16;
  void* cuda_encoder_ = nullptr;
};

}  // namespace crossrank
