// Loads the weights of a BERT / RoBERTa sequence classifier from safetensors, by the names
// transformers saves, checking every shape against config.json.
#include <string>

#include "crossrank/cuda_library.h"
#include "crossrank/encoder.h"
#include "crossrank/host_memory.h"
#include "crossrank/safetensors.h"
#include "crossrank/thread_pool.h"
#include "cuda/api.h"
#include "model/layer_feed.h"
#include "model/tensor_reader.h"

namespace crossrank {

Status EncoderConfig::Validate() const {
  auto positive = [](int32_t v) { return v > 0; };
  if (!positive(vocab_size) || !positive(hidden_size) || !positive(num_layers) || !positive(num_heads) ||
      !positive(intermediate_size) || !positive(max_positions) || !positive(type_vocab_size) || !positive(num_labels)) {
    return Status::ModelLoad("config.json: sizes must be positive integers");
  }
  if (hidden_size % num_heads != 0) {
    return Status::ModelLoad("config.json: hidden_size " + std::to_string(hidden_size) +
                             " is not a multiple of num_attention_heads " + std::to_string(num_heads));
  }
  if (!(layer_norm_eps > 0)) return Status::ModelLoad("config.json: layer_norm_eps must be positive");
  if (max_sequence_length() < 1) return Status::ModelLoad("config.json: max_position_embeddings too small for pad_token_id");
  return Status::Ok();
}


namespace {

// "bert." / "roberta." inside a classifier; nothing in a bare encoder.
std::string Prefix(const EncoderConfig& c) { return c.bare ? "" : c.arch == EncoderArch::kBert ? "bert." : "roberta."; }

Status LoadEncoderLayer(TensorReader& r, const EncoderConfig& c, int32_t l, EncoderLayerWeights* lw) {
  const int32_t H = c.hidden_size;
  const std::string L = Prefix(c) + "encoder.layer." + std::to_string(l);
  RETURN_IF_ERROR(r.LinearLayer(L + ".attention.self.query", H, H, &lw->query));
  RETURN_IF_ERROR(r.LinearLayer(L + ".attention.self.key", H, H, &lw->key));
  RETURN_IF_ERROR(r.LinearLayer(L + ".attention.self.value", H, H, &lw->value));
  RETURN_IF_ERROR(r.LinearLayer(L + ".attention.output.dense", H, H, &lw->attention_out));
  RETURN_IF_ERROR(r.Norm(L + ".attention.output.LayerNorm", H, &lw->attention_norm));
  RETURN_IF_ERROR(r.LinearLayer(L + ".intermediate.dense", c.intermediate_size, H, &lw->intermediate));
  RETURN_IF_ERROR(r.LinearLayer(L + ".output.dense", H, c.intermediate_size, &lw->output));
  return r.Norm(L + ".output.LayerNorm", H, &lw->output_norm);
}

// Everything but the layers: embeddings, and a classifier's head.
Status LoadEncoderGlobals(TensorReader& r, const EncoderConfig& c, EncoderWeights* w) {
  const std::string p = Prefix(c);
  const int32_t H = c.hidden_size;
  RETURN_IF_ERROR(r.Tensor(p + "embeddings.word_embeddings.weight", {c.vocab_size, H}, &w->word_embeddings));
  RETURN_IF_ERROR(r.Tensor(p + "embeddings.position_embeddings.weight", {c.max_positions, H}, &w->position_embeddings));
  RETURN_IF_ERROR(r.Tensor(p + "embeddings.token_type_embeddings.weight", {c.type_vocab_size, H}, &w->token_type_embeddings));
  RETURN_IF_ERROR(r.Norm(p + "embeddings.LayerNorm", H, &w->embedding_norm));
  if (c.bare) return Status::Ok();  // pooling happens outside; the pooler is unused
  if (c.arch == EncoderArch::kBert) {
    RETURN_IF_ERROR(r.LinearLayer("bert.pooler.dense", H, H, &w->head_dense));
    return r.LinearLayer("classifier", c.num_labels, H, &w->classifier);
  }
  RETURN_IF_ERROR(r.LinearLayer("classifier.dense", H, H, &w->head_dense));
  return r.LinearLayer("classifier.out_proj", c.num_labels, H, &w->classifier);
}

crossrank_cuda_linear CudaLinear(const Linear& l) { return {l.weight.data(), l.bias.data(), l.out, l.in}; }
crossrank_cuda_norm CudaNorm(const LayerNormParams& n) { return {n.gamma.data(), n.beta.data()}; }

crossrank_cuda_layer CudaEncoderLayer(const EncoderLayerWeights& w) {
  return {CudaLinear(w.query),        CudaLinear(w.key),    CudaLinear(w.value),         CudaLinear(w.attention_out),
          CudaLinear(w.intermediate), CudaLinear(w.output), CudaNorm(w.attention_norm), CudaNorm(w.output_norm)};
}

}  // namespace

Status LoadEncoderWeights(const TensorSource& source, const EncoderConfig& c, EncoderWeights* w,
                          const LoadProgress& progress) {
  RETURN_IF_ERROR(c.Validate());
  TensorReader r(source);
  RETURN_IF_ERROR(LoadEncoderGlobals(r, c, w));
  w->layers.resize(c.num_layers);
  for (int32_t l = 0; l < c.num_layers; ++l) {
    RETURN_IF_ERROR(LoadEncoderLayer(r, c, l, &w->layers[l]));
    if (progress) progress(l + 1, c.num_layers);
  }
  return Status::Ok();
}

uint64_t EncoderConfig::HostWeightBytes() const {
  const uint64_t H = hidden_size, I = intermediate_size;
  const uint64_t linear_hh = H * H + H, norm = 2 * H;
  const uint64_t layer = 4 * linear_hh + norm + (I * H + I) + (H * I + H) + norm;
  const uint64_t embeddings = H * (static_cast<uint64_t>(vocab_size) + max_positions + type_vocab_size) + norm;
  const uint64_t head = bare ? 0 : linear_hh + static_cast<uint64_t>(num_labels) * (H + 1);
  return 4 * (embeddings + static_cast<uint64_t>(num_layers) * layer + head);
}

Status EncoderModel::Load(const std::string& path, const EncoderConfig& config, int threads, int device,
                          CudaElementType element_type, std::unique_ptr<EncoderModel>* out,
                          const LoadProgress& progress) {
  if (device >= 0 && config.bare) {
    return Status::BackendUnavailable("the CUDA backend runs cross-encoders only; embed on the CPU (device 'cpu')");
  }
  if (device >= 0) RETURN_IF_ERROR(CudaLibrary::Instance().CheckDevice(device));  // fail before reading weights
  std::unique_ptr<TensorSource> file;
  RETURN_IF_ERROR(OpenTensorSource(path, &file));
  std::unique_ptr<EncoderModel> model(new EncoderModel());
  model->config_ = config;
  if (device < 0) {
    RETURN_IF_ERROR(config.Validate());
    RETURN_IF_ERROR(CheckHostMemory(config.HostWeightBytes(), "the CPU reference's weights of this model (fp32)",
                                    "Run it on a GPU (device 'cuda'), or its ONNX export (backend 'onnx')."));
    RETURN_IF_ERROR(LoadEncoderWeights(*file, config, &model->weights_, progress));
    model->pool_ = std::make_unique<ThreadPool>(threads);
    *out = std::move(model);
    return Status::Ok();
  }
  RETURN_IF_ERROR(config.Validate());
  TensorReader reader(*file);
  EncoderWeights w;  // embeddings and head; the layers come through the feed
  RETURN_IF_ERROR(LoadEncoderGlobals(reader, config, &w));
  // The layers are fed to the upload one at a time (model/layer_feed.h), as the decoder's.
  LayerFeed<EncoderConfig, EncoderLayerWeights, crossrank_cuda_layer> feed{
      &reader, &config, &progress, &LoadEncoderLayer, &CudaEncoderLayer, {}, Status::Ok()};
  crossrank_cuda_encoder_desc desc{};
  desc.roberta = config.arch == EncoderArch::kRoberta ? 1 : 0;
  desc.element_type = element_type == CudaElementType::kBf16 ? CROSSRANK_CUDA_BF16 : CROSSRANK_CUDA_FP16;
  desc.vocab_size = config.vocab_size;
  desc.hidden_size = config.hidden_size;
  desc.num_layers = config.num_layers;
  desc.num_heads = config.num_heads;
  desc.intermediate_size = config.intermediate_size;
  desc.max_positions = config.max_positions;
  desc.type_vocab_size = config.type_vocab_size;
  desc.num_labels = config.num_labels;
  desc.layer_norm_eps = config.layer_norm_eps;
  desc.word_embeddings = w.word_embeddings.data();
  desc.position_embeddings = w.position_embeddings.data();
  desc.token_type_embeddings = w.token_type_embeddings.data();
  desc.embedding_norm = CudaNorm(w.embedding_norm);
  desc.load_layer = &decltype(feed)::Load;
  desc.load_context = &feed;
  desc.head_dense = CudaLinear(w.head_dense);
  desc.classifier = CudaLinear(w.classifier);
  const Status created = CudaLibrary::Instance().CreateEncoder(device, &desc, &model->cuda_encoder_);
  RETURN_IF_ERROR(feed.status);  // a layer that failed to load says why, not just that the upload stopped
  RETURN_IF_ERROR(created);
  model->device_ = device;
  model->element_type_ = element_type;
  *out = std::move(model);
  return Status::Ok();
}

EncoderModel::~EncoderModel() { CudaLibrary::Instance().DestroyEncoder(cuda_encoder_); }

Status EncoderModel::Forward(const PackedBatch& batch, std::vector<float>* out) {
  RETURN_IF_ERROR(ValidatePackedBatch(batch, config_.max_sequence_length()));
  for (size_t i = 0; i < batch.token_ids.size(); ++i) {
    if (batch.token_ids[i] < 0 || batch.token_ids[i] >= config_.vocab_size) {
      return Status::InvalidArgument("token id " + std::to_string(batch.token_ids[i]) + " is outside the vocabulary (" +
                                     std::to_string(config_.vocab_size) + ")");
    }
    // RoBERTa models use token type 0 throughout, whatever the tokenizer's template says.
    if (config_.arch == EncoderArch::kBert && (batch.type_ids[i] < 0 || batch.type_ids[i] >= config_.type_vocab_size)) {
      return Status::InvalidArgument("token type " + std::to_string(batch.type_ids[i]) + " is outside [0, " +
                                     std::to_string(config_.type_vocab_size) + ")");
    }
  }
  if (device_ >= 0) {
    std::vector<int32_t> positions;
    EncoderPositions(config_, batch, &positions);
    return CudaLibrary::Instance().EncoderForward(cuda_encoder_, batch, positions, config_.num_labels, element_type_, out);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return EncoderForwardReference(config_, weights_, batch, *pool_, out);
}

}  // namespace crossrank
