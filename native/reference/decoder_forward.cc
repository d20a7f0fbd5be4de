// The Qwen3 decoder, plain and top to bottom: embeddings; per layer RMSNorm, q/k/v
// projections, per-head q/k RMSNorm, rotary embeddings, grouped-query causal attention over
// the key/value cache, output projection and residual, RMSNorm, SwiGLU and residual; a final
// RMSNorm of the last token and the two answer rows of the output layer.
#include <algorithm>
#include <cmath>
#include <string>

#include "crossrank/decoder.h"
#include "crossrank/safetensors.h"
#include "crossrank/thread_pool.h"
#include "model/tensor_reader.h"
#include "reference/encoder_ops.h"

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

Status LoadDecoderWeights(const SafetensorsFile& file, const DecoderConfig& c, const std::vector<int32_t>& answer_ids,
                          DecoderWeights* w) {
  RETURN_IF_ERROR(c.Validate());
  for (int32_t id : answer_ids) {
    if (id < 0 || id >= c.vocab_size) return Status::ModelLoad("answer token " + std::to_string(id) + " is outside the vocabulary");
  }
  TensorReader r(file);
  const int32_t H = c.hidden_size, I = c.intermediate_size, q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;
  auto linear = [&](const std::string& name, int32_t out, int32_t in, Linear* l) {
    l->out = out, l->in = in;
    l->bias.assign(static_cast<size_t>(out), 0.0f);
    return r.Tensor(name + ".weight", {out, in}, &l->weight);
  };
  RETURN_IF_ERROR(r.Tensor("model.embed_tokens.weight", {c.vocab_size, H}, &w->embed));
  w->layers.resize(static_cast<size_t>(c.num_layers));
  for (int32_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    DecoderLayerWeights& lw = w->layers[static_cast<size_t>(l)];
    RETURN_IF_ERROR(r.Tensor(p + "input_layernorm.weight", {H}, &lw.input_norm));
    RETURN_IF_ERROR(r.Tensor(p + "post_attention_layernorm.weight", {H}, &lw.post_norm));
    RETURN_IF_ERROR(r.Tensor(p + "self_attn.q_norm.weight", {c.head_dim}, &lw.q_norm));
    RETURN_IF_ERROR(r.Tensor(p + "self_attn.k_norm.weight", {c.head_dim}, &lw.k_norm));
    RETURN_IF_ERROR(linear(p + "self_attn.q_proj", q_dim, H, &lw.q));
    RETURN_IF_ERROR(linear(p + "self_attn.k_proj", kv_dim, H, &lw.k));
    RETURN_IF_ERROR(linear(p + "self_attn.v_proj", kv_dim, H, &lw.v));
    RETURN_IF_ERROR(linear(p + "self_attn.o_proj", H, q_dim, &lw.o));
    RETURN_IF_ERROR(linear(p + "mlp.gate_proj", I, H, &lw.gate));
    RETURN_IF_ERROR(linear(p + "mlp.up_proj", I, H, &lw.up));
    RETURN_IF_ERROR(linear(p + "mlp.down_proj", H, I, &lw.down));
  }
  RETURN_IF_ERROR(r.Tensor("model.norm.weight", {H}, &w->final_norm));
  // Only the answer rows of the output layer are ever computed.
  std::vector<float> head_storage;
  const std::vector<float>* head = &w->embed;
  if (!c.tie_word_embeddings) {
    RETURN_IF_ERROR(r.Tensor("lm_head.weight", {c.vocab_size, H}, &head_storage));
    head = &head_storage;
  }
  w->answer.out = static_cast<int32_t>(answer_ids.size()), w->answer.in = H;
  w->answer.bias.assign(answer_ids.size(), 0.0f);
  w->answer.weight.clear();
  for (int32_t id : answer_ids) {
    const float* row = head->data() + static_cast<size_t>(id) * H;
    w->answer.weight.insert(w->answer.weight.end(), row, row + H);
  }
  return Status::Ok();
}

namespace {

void RmsNorm(float* x, size_t dim, const float* gamma, float eps) {
  double sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(dim) + eps));
  for (size_t i = 0; i < dim; ++i) x[i] = x[i] * inv * gamma[i];
}

// Rotary embedding of one head vector at `position`: pairs (i, i + d/2) rotate by
// position * theta^(-2i/d), as transformers' rotate_half formulation.
void Rope(float* v, int32_t d, int32_t position, double theta) {
  const int32_t half = d / 2;
  for (int32_t i = 0; i < half; ++i) {
    const double angle = position * std::pow(theta, -2.0 * i / d);
    const float c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
    const float a = v[i], b = v[i + half];
    v[i] = a * c - b * s;
    v[i + half] = b * c + a * s;
  }
}

// Runs `n` tokens that follow the cache (positions cache->length ...), appending their keys
// and values, and leaves the last token's hidden state in *last.
Status RunTokens(const DecoderConfig& c, const DecoderWeights& w, const int32_t* tokens, size_t n, KvCache* cache,
                 ThreadPool& pool, std::vector<float>* last) {
  const size_t H = static_cast<size_t>(c.hidden_size), hd = static_cast<size_t>(c.head_dim);
  const size_t nH = static_cast<size_t>(c.num_heads), nKV = static_cast<size_t>(c.num_kv_heads);
  const size_t group = nH / nKV, I = static_cast<size_t>(c.intermediate_size);
  const int32_t start = cache->length;
  if (start + static_cast<int64_t>(n) > c.max_positions) return Status::InvalidArgument("sequence longer than max_position_embeddings");
  if (cache->k.empty()) cache->k.resize(static_cast<size_t>(c.num_layers)), cache->v.resize(static_cast<size_t>(c.num_layers));
  std::vector<float> x(n * H), h(n * H), q(n * nH * hd), k(n * nKV * hd), v(n * nKV * hd), ctx(n * nH * hd), attn(n * H);
  std::vector<float> gate(n * I), up(n * I), down(n * H);
  for (size_t t = 0; t < n; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size) return Status::InvalidArgument("token id " + std::to_string(tokens[t]) + " is outside the vocabulary");
    std::copy_n(w.embed.data() + static_cast<size_t>(tokens[t]) * H, H, x.data() + t * H);
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const DecoderLayerWeights& lw = w.layers[l];
    h = x;
    for (size_t t = 0; t < n; ++t) RmsNorm(h.data() + t * H, H, lw.input_norm.data(), c.rms_norm_eps);
    ref::LinearForward(pool, h.data(), n, lw.q, q.data());
    ref::LinearForward(pool, h.data(), n, lw.k, k.data());
    ref::LinearForward(pool, h.data(), n, lw.v, v.data());
    for (size_t t = 0; t < n; ++t) {
      const int32_t pos = start + static_cast<int32_t>(t);
      for (size_t j = 0; j < nH; ++j) {
        RmsNorm(q.data() + (t * nH + j) * hd, hd, lw.q_norm.data(), c.rms_norm_eps);
        Rope(q.data() + (t * nH + j) * hd, c.head_dim, pos, c.rope_theta);
      }
      for (size_t j = 0; j < nKV; ++j) {
        RmsNorm(k.data() + (t * nKV + j) * hd, hd, lw.k_norm.data(), c.rms_norm_eps);
        Rope(k.data() + (t * nKV + j) * hd, c.head_dim, pos, c.rope_theta);
      }
    }
    std::vector<float>& K = cache->k[l];
    std::vector<float>& V = cache->v[l];
    K.insert(K.end(), k.begin(), k.end());
    V.insert(V.end(), v.begin(), v.end());
    // Causal attention: token t sees the cache and itself (positions <= start + t).
    pool.ParallelFor(n * nH, 1, [&](size_t begin, size_t end) {
      std::vector<float> scores;
      for (size_t item = begin; item < end; ++item) {
        const size_t t = item / nH, j = item % nH, kv = j / group;
        const size_t visible = static_cast<size_t>(start) + t + 1;
        const float* qv = q.data() + (t * nH + j) * hd;
        scores.resize(visible);
        float max = -INFINITY;
        for (size_t s = 0; s < visible; ++s) {
          const float* kv_row = K.data() + (s * nKV + kv) * hd;
          float dot = 0;
          for (size_t i = 0; i < hd; ++i) dot += qv[i] * kv_row[i];
          scores[s] = dot * scale;
          max = std::max(max, scores[s]);
        }
        float sum = 0;
        for (float& sc : scores) sum += (sc = std::exp(sc - max));
        float* out = ctx.data() + (t * nH + j) * hd;
        std::fill_n(out, hd, 0.0f);
        for (size_t s = 0; s < visible; ++s) {
          const float p = scores[s] / sum;
          const float* v_row = V.data() + (s * nKV + kv) * hd;
          for (size_t i = 0; i < hd; ++i) out[i] += p * v_row[i];
        }
      }
    });
    ref::LinearForward(pool, ctx.data(), n, lw.o, attn.data());
    for (size_t i = 0; i < n * H; ++i) x[i] += attn[i];
    h = x;
    for (size_t t = 0; t < n; ++t) RmsNorm(h.data() + t * H, H, lw.post_norm.data(), c.rms_norm_eps);
    ref::LinearForward(pool, h.data(), n, lw.gate, gate.data());
    ref::LinearForward(pool, h.data(), n, lw.up, up.data());
    for (size_t i = 0; i < n * I; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];  // SiLU(gate) * up
    ref::LinearForward(pool, gate.data(), n, lw.down, down.data());
    for (size_t i = 0; i < n * H; ++i) x[i] += down[i];
  }
  cache->length = start + static_cast<int32_t>(n);
  last->assign(x.end() - static_cast<std::ptrdiff_t>(H), x.end());
  return Status::Ok();
}

void Answer(const DecoderConfig& c, const DecoderWeights& w, std::vector<float>& last, ThreadPool& pool, float* out) {
  RmsNorm(last.data(), last.size(), w.final_norm.data(), c.rms_norm_eps);
  ref::LinearForward(pool, last.data(), 1, w.answer, out);
}

}  // namespace

Status DecoderScoreFull(const DecoderConfig& c, const DecoderWeights& w, const PackedBatch& batch, ThreadPool& pool,
                        std::vector<float>* out) {
  RETURN_IF_ERROR(ValidatePackedBatch(batch, c.max_positions));
  out->assign(static_cast<size_t>(batch.num_seqs()) * w.answer.out, 0.0f);
  std::vector<float> last;
  for (int32_t s = 0; s < batch.num_seqs(); ++s) {
    KvCache cache;
    const int32_t begin = batch.cu_seqlens[s];
    RETURN_IF_ERROR(RunTokens(c, w, batch.token_ids.data() + begin, static_cast<size_t>(batch.cu_seqlens[s + 1] - begin), &cache, pool, &last));
    Answer(c, w, last, pool, out->data() + static_cast<size_t>(s) * w.answer.out);
  }
  return Status::Ok();
}

Status DecoderScoreShared(const DecoderConfig& c, const DecoderWeights& w, const std::vector<int32_t>& prefix,
                          const PackedBatch& continuations, ThreadPool& pool, std::vector<float>* out) {
  if (prefix.empty()) return Status::InvalidArgument("the shared prefix is empty");
  RETURN_IF_ERROR(ValidatePackedBatch(continuations, c.max_positions));
  KvCache shared;
  std::vector<float> last;
  RETURN_IF_ERROR(RunTokens(c, w, prefix.data(), prefix.size(), &shared, pool, &last));
  out->assign(static_cast<size_t>(continuations.num_seqs()) * w.answer.out, 0.0f);
  for (int32_t s = 0; s < continuations.num_seqs(); ++s) {
    KvCache cache = shared;  // the prefix's keys and values, computed once
    const int32_t begin = continuations.cu_seqlens[s];
    RETURN_IF_ERROR(RunTokens(c, w, continuations.token_ids.data() + begin,
                              static_cast<size_t>(continuations.cu_seqlens[s + 1] - begin), &cache, pool, &last));
    Answer(c, w, last, pool, out->data() + static_cast<size_t>(s) * w.answer.out);
  }
  return Status::Ok();
}

}  // namespace crossrank
