// The reference forward pass of a BERT / RoBERTa sequence classifier over a packed batch,
// top to bottom. It is the oracle the CUDA backend is checked against, and a usable CPU
// fallback (parallel over rows, sequences and heads).
#include <cmath>
#include <vector>

#include "crossrank/encoder.h"
#include "reference/encoder_ops.h"

namespace crossrank {

void EncoderPositions(const EncoderConfig& c, const PackedBatch& batch, std::vector<int32_t>* positions) {
  positions->resize(batch.token_ids.size());
  for (int32_t s = 0; s < batch.num_seqs(); ++s) {
    int32_t count = c.pad_token_id;
    for (int32_t t = batch.cu_seqlens[s]; t < batch.cu_seqlens[s + 1]; ++t) {
      if (c.arch == EncoderArch::kBert) {
        (*positions)[t] = t - batch.cu_seqlens[s];
      } else {
        (*positions)[t] = batch.token_ids[t] == c.pad_token_id ? c.pad_token_id : ++count;
      }
    }
  }
}

Status EncoderForwardReference(const EncoderConfig& c, const EncoderWeights& w, const PackedBatch& batch,
                               ThreadPool& pool, std::vector<float>* out) {
  const size_t T = static_cast<size_t>(batch.total_tokens());
  const size_t H = static_cast<size_t>(c.hidden_size);
  const int32_t num_seqs = batch.num_seqs();

  // ---- embeddings: word + position + token type, then LayerNorm ---------------------
  std::vector<float> x(T * H);
  std::vector<int32_t> positions;
  EncoderPositions(c, batch, &positions);
  for (int32_t s = 0; s < num_seqs; ++s) {
    for (int32_t t = batch.cu_seqlens[s]; t < batch.cu_seqlens[s + 1]; ++t) {
      const int32_t pos = positions[t];
      const int32_t type = c.arch == EncoderArch::kBert ? batch.type_ids[t] : 0;
      const float* we = w.word_embeddings.data() + static_cast<size_t>(batch.token_ids[t]) * H;
      const float* pe = w.position_embeddings.data() + static_cast<size_t>(pos) * H;
      const float* te = w.token_type_embeddings.data() + static_cast<size_t>(type) * H;
      float* row = x.data() + static_cast<size_t>(t) * H;
      for (size_t i = 0; i < H; ++i) row[i] = we[i] + te[i] + pe[i];
    }
  }
  ref::AddLayerNorm(pool, x.data(), nullptr, T, w.embedding_norm, c.layer_norm_eps);

  // ---- encoder layers ------------------------------------------------------------
  const int32_t head_dim = c.hidden_size / c.num_heads;
  std::vector<float> q(T * H), k(T * H), v(T * H), ctx(T * H), attn(T * H);
  std::vector<float> up(T * static_cast<size_t>(c.intermediate_size)), down(T * H);
  for (const EncoderLayerWeights& layer : w.layers) {
    ref::LinearForward(pool, x.data(), T, layer.query, q.data());
    ref::LinearForward(pool, x.data(), T, layer.key, k.data());
    ref::LinearForward(pool, x.data(), T, layer.value, v.data());
    ref::PackedAttention(pool, q.data(), k.data(), v.data(), batch.cu_seqlens.data(), num_seqs, c.num_heads, head_dim,
                         ctx.data());
    ref::LinearForward(pool, ctx.data(), T, layer.attention_out, attn.data());
    ref::AddLayerNorm(pool, attn.data(), x.data(), T, layer.attention_norm, c.layer_norm_eps);
    x.swap(attn);

    ref::LinearForward(pool, x.data(), T, layer.intermediate, up.data());
    ref::Gelu(pool, up.data(), up.size());
    ref::LinearForward(pool, up.data(), T, layer.output, down.data());
    ref::AddLayerNorm(pool, down.data(), x.data(), T, layer.output_norm, c.layer_norm_eps);
    x.swap(down);
  }

  // ---- a bare encoder ends here: the token vectors, for the caller to pool ------------
  if (c.bare) {
    *out = std::move(x);
    return Status::Ok();
  }

  // ---- head on each sequence's first token: tanh(dense), then the classifier --------
  std::vector<float> first(static_cast<size_t>(num_seqs) * H), pooled(static_cast<size_t>(num_seqs) * H);
  for (int32_t s = 0; s < num_seqs; ++s) {
    std::copy_n(x.data() + static_cast<size_t>(batch.cu_seqlens[s]) * H, H, first.data() + static_cast<size_t>(s) * H);
  }
  ref::LinearForward(pool, first.data(), num_seqs, w.head_dense, pooled.data());
  for (float& p : pooled) p = std::tanh(p);
  out->resize(static_cast<size_t>(num_seqs) * c.num_labels);
  ref::LinearForward(pool, pooled.data(), num_seqs, w.classifier, out->data());
  return Status::Ok();
}

}  // namespace crossrank
