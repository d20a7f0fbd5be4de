// The Qwen3 decoder, plain and top to bottom: embeddings; per layer RMSNorm, q/k/v
// projections, per-head q/k RMSNorm, rotary embeddings, grouped-query causal attention over
// the key/value cache, output projection and residual, RMSNorm, SwiGLU and residual; a final
// RMSNorm of the last token and the answer rows of the output layer.
#include <algorithm>
#include <cmath>
#include <string>

#include "crossrank/decoder.h"
#include "model/tensor_reader.h"  // RETURN_IF_ERROR
#include "crossrank/thread_pool.h"
#include "reference/decoder_ops.h"
#include "reference/encoder_ops.h"

namespace crossrank {

Status ValidateDecoderBatch(const DecoderBatch& b, const DecoderConfig& c) {
  const int32_t num_prefixes = b.num_prefixes();
  if (b.prefix_cu.empty() || b.prefix_cu[0] != 0 || b.prefix_ids.size() != static_cast<size_t>(b.prefix_cu.back())) {
    return Status::InvalidArgument("prefixIds and prefixCu disagree on the number of prefix tokens");
  }
  for (int32_t p = 0; p < num_prefixes; ++p) {
    if (b.prefix_cu[p + 1] <= b.prefix_cu[p]) return Status::InvalidArgument("prefix " + std::to_string(p) + " is empty");
  }
  RETURN_IF_ERROR(ValidatePackedBatch(b.sequences, c.max_positions));
  if (b.prefix_of.size() != static_cast<size_t>(b.sequences.num_seqs())) {
    return Status::InvalidArgument("prefixOf needs one entry per sequence");
  }
  for (int32_t s = 0; s < b.sequences.num_seqs(); ++s) {
    const int32_t p = b.prefix_of[s];
    if (p < -1 || p >= num_prefixes) return Status::InvalidArgument("sequence " + std::to_string(s) + " names a prefix that does not exist");
    const int64_t length = int64_t(b.sequences.cu_seqlens[s + 1] - b.sequences.cu_seqlens[s]) + b.prefix_length(p);
    if (length > c.max_positions) {
      return Status::InvalidArgument("sequence " + std::to_string(s) + " has " + std::to_string(length) +
                                     " tokens with its prefix, the model takes at most " + std::to_string(c.max_positions));
    }
  }
  auto check_ids = [&](const std::vector<int32_t>& ids) {
    for (int32_t id : ids) {
      if (id < 0 || id >= c.vocab_size) {
        return Status::InvalidArgument("token id " + std::to_string(id) + " is outside the vocabulary (" + std::to_string(c.vocab_size) + ")");
      }
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(check_ids(b.prefix_ids));
  return check_ids(b.sequences.token_ids);
}

namespace {

// Runs `n` tokens that follow the cache (positions cache->length ...), appending their keys
// and values, and leaves the last token's hidden state in *last.
void RunTokens(const DecoderConfig& c, const DecoderWeights& w, const int32_t* tokens, size_t n, KvCache* cache,
               ThreadPool& pool, std::vector<float>* last) {
  const size_t H = static_cast<size_t>(c.hidden_size), hd = static_cast<size_t>(c.head_dim);
  const size_t nH = static_cast<size_t>(c.num_heads), nKV = static_cast<size_t>(c.num_kv_heads);
  const size_t I = static_cast<size_t>(c.intermediate_size);
  const int32_t start = cache->length;
  if (cache->k.empty()) cache->k.resize(static_cast<size_t>(c.num_layers)), cache->v.resize(static_cast<size_t>(c.num_layers));
  std::vector<float> x(n * H), h(n * H), q(n * nH * hd), k(n * nKV * hd), v(n * nKV * hd), ctx(n * nH * hd), attn(n * H);
  std::vector<float> gate(n * I), up(n * I), down(n * H);
  for (size_t t = 0; t < n; ++t) std::copy_n(w.embed.data() + static_cast<size_t>(tokens[t]) * H, H, x.data() + t * H);
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const DecoderLayerWeights& lw = w.layers[l];
    h = x;
    for (size_t t = 0; t < n; ++t) ref::RmsNorm(h.data() + t * H, H, lw.input_norm.data(), c.rms_norm_eps);
    ref::LinearForward(pool, h.data(), n, lw.q, q.data());
    ref::LinearForward(pool, h.data(), n, lw.k, k.data());
    ref::LinearForward(pool, h.data(), n, lw.v, v.data());
    for (size_t t = 0; t < n; ++t) {
      const int32_t pos = start + static_cast<int32_t>(t);
      for (size_t j = 0; j < nH; ++j) {
        ref::RmsNorm(q.data() + (t * nH + j) * hd, hd, lw.q_norm.data(), c.rms_norm_eps);
        ref::Rope(q.data() + (t * nH + j) * hd, c.head_dim, pos, c.rope_theta);
      }
      for (size_t j = 0; j < nKV; ++j) {
        ref::RmsNorm(k.data() + (t * nKV + j) * hd, hd, lw.k_norm.data(), c.rms_norm_eps);
        ref::Rope(k.data() + (t * nKV + j) * hd, c.head_dim, pos, c.rope_theta);
      }
    }
    std::vector<float>& K = cache->k[l];
    std::vector<float>& V = cache->v[l];
    K.insert(K.end(), k.begin(), k.end());
    V.insert(V.end(), v.begin(), v.end());
    ref::CausalAttention(pool, q.data(), K.data(), V.data(), n, static_cast<size_t>(start), c.num_heads, c.num_kv_heads,
                         c.head_dim, ctx.data());
    ref::LinearForward(pool, ctx.data(), n, lw.o, attn.data());
    for (size_t i = 0; i < n * H; ++i) x[i] += attn[i];
    h = x;
    for (size_t t = 0; t < n; ++t) ref::RmsNorm(h.data() + t * H, H, lw.post_norm.data(), c.rms_norm_eps);
    ref::LinearForward(pool, h.data(), n, lw.gate, gate.data());
    ref::LinearForward(pool, h.data(), n, lw.up, up.data());
    ref::SwiGlu(gate.data(), up.data(), n * I, gate.data());
    ref::LinearForward(pool, gate.data(), n, lw.down, down.data());
    for (size_t i = 0; i < n * H; ++i) x[i] += down[i];
  }
  cache->length = start + static_cast<int32_t>(n);
  last->assign(x.end() - static_cast<std::ptrdiff_t>(H), x.end());
}

void Answer(const DecoderConfig& c, const DecoderWeights& w, std::vector<float>& last, ThreadPool& pool, float* out) {
  ref::RmsNorm(last.data(), last.size(), w.final_norm.data(), c.rms_norm_eps);
  ref::LinearForward(pool, last.data(), 1, w.answer, out);
}

}  // namespace

Status DecoderScoreReference(const DecoderConfig& c, const DecoderWeights& w, const DecoderBatch& batch, ThreadPool& pool,
                             std::vector<float>* out) {
  RETURN_IF_ERROR(ValidateDecoderBatch(batch, c));
  // Each prefix runs once; its cache is copied for every sequence that continues it.
  std::vector<KvCache> prefixes(static_cast<size_t>(batch.num_prefixes()));
  std::vector<float> last;
  for (int32_t p = 0; p < batch.num_prefixes(); ++p) {
    RunTokens(c, w, batch.prefix_ids.data() + batch.prefix_cu[p], static_cast<size_t>(batch.prefix_length(p)),
              &prefixes[static_cast<size_t>(p)], pool, &last);
  }
  const PackedBatch& seqs = batch.sequences;
  out->assign(static_cast<size_t>(seqs.num_seqs()) * w.answer.out, 0.0f);
  for (int32_t s = 0; s < seqs.num_seqs(); ++s) {
    const int32_t p = batch.prefix_of[s];
    KvCache cache = p >= 0 ? prefixes[static_cast<size_t>(p)] : KvCache();
    const int32_t begin = seqs.cu_seqlens[s];
    RunTokens(c, w, seqs.token_ids.data() + begin, static_cast<size_t>(seqs.cu_seqlens[s + 1] - begin), &cache, pool, &last);
    Answer(c, w, last, pool, out->data() + static_cast<size_t>(s) * w.answer.out);
  }
  return Status::Ok();
}

}  // namespace crossrank
