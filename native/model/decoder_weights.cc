// Loads the weights of a Qwen3 decoder reranker from safetensors (transformers' names,
// shapes checked against config.json) and runs it on the CPU reference or the CUDA backend.
#include <new>
#include <string>

#include "crossrank/cuda_library.h"
#include "crossrank/decoder.h"
#include "crossrank/host_memory.h"
#include "crossrank/safetensors.h"
#include "crossrank/thread_pool.h"
#include "cuda/api.h"
#include "model/json.h"
#include "model/layer_feed.h"
#include "model/tensor_reader.h"

namespace crossrank {

Status DecoderConfig::Validate() const {
  if (vocab_size <= 0 || hidden_size <= 0 || intermediate_size <= 0 || num_layers <= 0 || num_heads <= 0 ||
      num_kv_heads <= 0 || head_dim <= 0 || max_positions <= 0) {
    return Status::ModelLoad("config.json: decoder sizes must be positive integers");
  }
  if (num_heads % num_kv_heads != 0) return Status::ModelLoad("config.json: num_attention_heads must be a multiple of num_key_value_heads");
  if (head_dim % 2 != 0) return Status::ModelLoad("config.json: head_dim must be even (rotary embeddings)");
  if (!(rms_norm_eps > 0) || !(rope_theta > 0)) return Status::ModelLoad("config.json: rms_norm_eps and rope_theta must be positive");
  return Status::Ok();
}

namespace {

Status CheckAnswerIds(const DecoderConfig& c, const std::vector<int32_t>& answer_ids) {
  for (int32_t id : answer_ids) {
    if (id < 0 || id >= c.vocab_size) return Status::ModelLoad("answer token " + std::to_string(id) + " is outside the vocabulary");
  }
  return Status::Ok();
}

Status LoadDecoderLayer(TensorReader& r, const DecoderConfig& c, int32_t l, DecoderLayerWeights* lw) {
  const int32_t H = c.hidden_size, I = c.intermediate_size, q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;
  auto linear = [&](const std::string& name, int32_t out, int32_t in, Linear* w) {
    w->out = out, w->in = in;
    w->bias.assign(static_cast<size_t>(out), 0.0f);
    return r.Tensor(name + ".weight", {out, in}, &w->weight);
  };
  const std::string p = "model.layers." + std::to_string(l) + ".";
  RETURN_IF_ERROR(r.Tensor(p + "input_layernorm.weight", {H}, &lw->input_norm));
  RETURN_IF_ERROR(r.Tensor(p + "post_attention_layernorm.weight", {H}, &lw->post_norm));
  RETURN_IF_ERROR(r.Tensor(p + "self_attn.q_norm.weight", {c.head_dim}, &lw->q_norm));
  RETURN_IF_ERROR(r.Tensor(p + "self_attn.k_norm.weight", {c.head_dim}, &lw->k_norm));
  RETURN_IF_ERROR(linear(p + "self_attn.q_proj", q_dim, H, &lw->q));
  RETURN_IF_ERROR(linear(p + "self_attn.k_proj", kv_dim, H, &lw->k));
  RETURN_IF_ERROR(linear(p + "self_attn.v_proj", kv_dim, H, &lw->v));
  RETURN_IF_ERROR(linear(p + "self_attn.o_proj", H, q_dim, &lw->o));
  RETURN_IF_ERROR(linear(p + "mlp.gate_proj", I, H, &lw->gate));
  RETURN_IF_ERROR(linear(p + "mlp.up_proj", I, H, &lw->up));
  return linear(p + "mlp.down_proj", H, I, &lw->down);
}

// The weights outside the layers: embeddings, final norm, and of the output layer only the
// answer rows (lm_head, or the embeddings when tied), converted row by row.
Status LoadDecoderGlobals(TensorReader& r, const DecoderConfig& c, const std::vector<int32_t>& answer_ids,
                          DecoderWeights* w) {
  const int32_t H = c.hidden_size;
  RETURN_IF_ERROR(r.Tensor("model.embed_tokens.weight", {c.vocab_size, H}, &w->embed));
  RETURN_IF_ERROR(r.Tensor("model.norm.weight", {H}, &w->final_norm));
  w->answer.out = static_cast<int32_t>(answer_ids.size()), w->answer.in = H;
  w->answer.bias.assign(answer_ids.size(), 0.0f);
  const char* head = c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  return r.Rows(head, c.vocab_size, H, answer_ids, &w->answer.weight);
}

}  // namespace

Status LoadDecoderWeights(const TensorSource& source, const DecoderConfig& c, const std::vector<int32_t>& answer_ids,
                          DecoderWeights* w, const LoadProgress& progress) {
  RETURN_IF_ERROR(c.Validate());
  RETURN_IF_ERROR(CheckAnswerIds(c, answer_ids));
  TensorReader r(source);
  RETURN_IF_ERROR(LoadDecoderGlobals(r, c, answer_ids, w));
  w->layers.resize(static_cast<size_t>(c.num_layers));
  for (int32_t l = 0; l < c.num_layers; ++l) {
    RETURN_IF_ERROR(LoadDecoderLayer(r, c, l, &w->layers[static_cast<size_t>(l)]));
    if (progress) progress(l + 1, c.num_layers);
  }
  return Status::Ok();
}

Status DecoderConfigFromJson(const std::string& text, DecoderConfig* c) {
  json::Value v;
  std::string error;
  if (!json::Parse(text.data(), text.size(), &v, &error)) return Status::ModelLoad("config.json: " + error);
  auto num = [&](const char* key, double fallback) {
    const json::Value* x = v.Get(key);
    return x && x->kind == json::Value::Kind::kNumber ? x->number : fallback;
  };
  c->vocab_size = static_cast<int32_t>(num("vocab_size", 0));
  c->hidden_size = static_cast<int32_t>(num("hidden_size", 0));
  c->intermediate_size = static_cast<int32_t>(num("intermediate_size", 0));
  c->num_layers = static_cast<int32_t>(num("num_hidden_layers", 0));
  c->num_heads = static_cast<int32_t>(num("num_attention_heads", 0));
  c->num_kv_heads = static_cast<int32_t>(num("num_key_value_heads", c->num_heads));
  c->head_dim = static_cast<int32_t>(num("head_dim", c->num_heads > 0 ? c->hidden_size / c->num_heads : 0));
  c->max_positions = static_cast<int32_t>(num("max_position_embeddings", 0));
  c->rms_norm_eps = static_cast<float>(num("rms_norm_eps", 1e-6));
  // transformers 5 keeps rotary settings in rope_parameters, 4.x in rope_theta (+ rope_scaling).
  c->rope_theta = num("rope_theta", 10000);
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    const json::Value* rope = v.Get(key);
    if (!rope || rope->kind != json::Value::Kind::kObject) continue;
    const json::Value* theta = rope->Get("rope_theta");
    if (theta && theta->kind == json::Value::Kind::kNumber) c->rope_theta = theta->number;
    const json::Value* type = rope->Get("rope_type") ? rope->Get("rope_type") : rope->Get("type");
    if (type && type->kind == json::Value::Kind::kString && type->string != "default") {
      return Status::ModelLoad("config.json: rotary embeddings of type " + type->string + " are not supported (only default)");
    }
  }
  const json::Value* tie = v.Get("tie_word_embeddings");
  c->tie_word_embeddings = tie && tie->kind == json::Value::Kind::kBool && tie->boolean;
  // Sliding-window layers (transformers: layer_types, or use_sliding_window from
  // max_window_layers on) would be computed wrongly past the window: refused, unless the
  // window covers every position (the same rule as the JavaScript loader).
  bool windowed = false;
  if (const json::Value* types = v.Get("layer_types"); types && types->kind == json::Value::Kind::kArray) {
    for (const json::Value& t : types->array) windowed |= t.kind == json::Value::Kind::kString && t.string == "sliding_attention";
  } else if (const json::Value* use = v.Get("use_sliding_window"); use && use->kind == json::Value::Kind::kBool && use->boolean) {
    windowed = num("max_window_layers", c->num_layers) < c->num_layers;
  }
  // What the engine computes: SwiGLU with SiLU, projections without biases (Qwen3's defaults).
  if (const json::Value* act = v.Get("hidden_act"); act && !(act->kind == json::Value::Kind::kString && act->string == "silu")) {
    return Status::ModelLoad("config.json: hidden_act must be silu");
  }
  if (const json::Value* bias = v.Get("attention_bias"); bias && bias->kind == json::Value::Kind::kBool && bias->boolean) {
    return Status::ModelLoad("config.json: attention_bias (biases on q/k/v/o) is not supported");
  }
  const json::Value* window = v.Get("sliding_window");
  if (windowed && !(window && window->kind == json::Value::Kind::kNumber && window->number >= c->max_positions)) {
    return Status::ModelLoad("config.json: sliding-window attention is not supported (the decoder attends to every earlier token)");
  }
  return c->Validate();
}

int32_t DecoderBatch::AddPrefix(const std::vector<int32_t>& ids) {
  prefix_ids.insert(prefix_ids.end(), ids.begin(), ids.end());
  prefix_cu.push_back(static_cast<int32_t>(prefix_ids.size()));
  return num_prefixes() - 1;
}

void DecoderBatch::AddSequence(const int32_t* ids, size_t n, int32_t prefix) {
  sequences.token_ids.insert(sequences.token_ids.end(), ids, ids + n);
  sequences.type_ids.resize(sequences.token_ids.size(), 0);
  sequences.cu_seqlens.push_back(static_cast<int32_t>(sequences.token_ids.size()));
  prefix_of.push_back(prefix);
}

namespace {

crossrank_cuda_decoder_layer CudaDecoderLayer(const DecoderLayerWeights& w) {
  return {w.input_norm.data(), w.post_norm.data(), w.q_norm.data(), w.k_norm.data(), w.q.weight.data(),
          w.k.weight.data(),   w.v.weight.data(),  w.o.weight.data(),  w.gate.weight.data(), w.up.weight.data(),
          w.down.weight.data()};
}

}  // namespace

uint64_t DecoderConfig::HostWeightBytes(size_t answers) const {
  const uint64_t H = hidden_size, I = intermediate_size, q_dim = static_cast<uint64_t>(num_heads) * head_dim,
                 kv_dim = static_cast<uint64_t>(num_kv_heads) * head_dim;
  // Each linear layer carries a zero bias vector (the reference's Linear has one).
  const uint64_t layer = 2 * H + 2 * static_cast<uint64_t>(head_dim) + (q_dim * H + q_dim) + 2 * (kv_dim * H + kv_dim) +
                         (H * q_dim + H) + 2 * (I * H + I) + (H * I + H);
  const uint64_t globals = static_cast<uint64_t>(vocab_size) * H + H + answers * (H + 1);
  return 4 * (globals + static_cast<uint64_t>(num_layers) * layer);
}

Status DecoderModel::Load(const std::string& path, const DecoderConfig& config, const std::vector<int32_t>& answer_ids,
                          int threads, int device, CudaElementType element_type,
                          std::unique_ptr<DecoderModel>* out, const LoadProgress& progress) {
  if (device >= 0) RETURN_IF_ERROR(CudaLibrary::Instance().CheckDevice(device));  // fail before reading weights
  std::unique_ptr<TensorSource> file;
  RETURN_IF_ERROR(OpenTensorSource(path, &file));
  std::unique_ptr<DecoderModel> model(new DecoderModel());
  model->config_ = config;
  model->num_answers_ = static_cast<int32_t>(answer_ids.size());
  if (device < 0) {
    RETURN_IF_ERROR(config.Validate());
    RETURN_IF_ERROR(CheckHostMemory(config.HostWeightBytes(answer_ids.size()), "the CPU reference's weights of this model (fp32)",
                                    "Run it on a GPU (device 'cuda': weights go up one layer at a time), or its ONNX export "
                                    "(backend 'onnx', which can run a quantized one)."));
    RETURN_IF_ERROR(LoadDecoderWeights(*file, config, answer_ids, &model->weights_, progress));
    model->pool_ = std::make_unique<ThreadPool>(threads);
    *out = std::move(model);
    return Status::Ok();
  }
  RETURN_IF_ERROR(config.Validate());
  RETURN_IF_ERROR(CheckAnswerIds(config, answer_ids));
  TensorReader reader(*file);
  DecoderWeights globals;
  RETURN_IF_ERROR(LoadDecoderGlobals(reader, config, answer_ids, &globals));
  LayerFeed<DecoderConfig, DecoderLayerWeights, crossrank_cuda_decoder_layer> feed{
      &reader, &config, &progress, &LoadDecoderLayer, &CudaDecoderLayer, {}, Status::Ok()};
  crossrank_cuda_decoder_desc desc{};
  desc.vocab_size = config.vocab_size;
  desc.hidden_size = config.hidden_size;
  desc.intermediate_size = config.intermediate_size;
  desc.num_layers = config.num_layers;
  desc.num_heads = config.num_heads;
  desc.num_kv_heads = config.num_kv_heads;
  desc.head_dim = config.head_dim;
  desc.max_positions = config.max_positions;
  desc.num_answers = model->num_answers_;
  desc.element_type = element_type == CudaElementType::kFp16 ? CROSSRANK_CUDA_FP16 : CROSSRANK_CUDA_BF16;
  desc.rms_norm_eps = config.rms_norm_eps;
  desc.rope_theta = config.rope_theta;
  desc.embed = globals.embed.data();
  desc.load_layer = &decltype(feed)::Load;
  desc.load_context = &feed;
  desc.final_norm = globals.final_norm.data();
  desc.answer = globals.answer.weight.data();
  const Status created = CudaLibrary::Instance().CreateDecoder(device, &desc, &model->cuda_decoder_);
  RETURN_IF_ERROR(feed.status);  // a layer that failed to load says why, not just that the upload stopped
  RETURN_IF_ERROR(created);
  model->device_ = device;
  model->element_type_ = element_type;
  *out = std::move(model);
  return Status::Ok();
}

DecoderModel::~DecoderModel() { CudaLibrary::Instance().DestroyDecoder(cuda_decoder_); }

Status DecoderModel::Score(const DecoderBatch& batch, std::vector<float>* out) {
  RETURN_IF_ERROR(ValidateDecoderBatch(batch, config_));
  if (device_ >= 0) return CudaLibrary::Instance().DecoderScore(cuda_decoder_, batch, num_answers_, element_type_, out);
  std::lock_guard<std::mutex> lock(mutex_);
  return DecoderScoreReference(config_, weights_, batch, *pool_, out);
}

}  // namespace crossrank
