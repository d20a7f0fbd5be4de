// The Qwen3 decoder, plain and top to bottom: embeddings; per layer RMSNorm, q/k/v
// projections, per-head q/k RMSNorm, rotary embeddings, grouped-query causal attention over
// the key/value cache, output projection and residual, RMSNorm, SwiGLU and residual; a final
// RMSNorm of the last token and the answer rows of the output layer.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

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

// One prompt's tokens to run after its cache (positions cache->length ...).
struct Segment {
  const int32_t* tokens;
  size_t n;
  KvCache* cache;
};

// Runs every segment's tokens after its cache, appending their keys and values, and leaves
// each segment's last hidden state in row i of *last ([segments x hidden]). The segments' rows
// go through each linear layer together (one weight pass for all of them); rows never mix
// elsewhere, and each op's result for a row is independent of the others, so this equals
// running each segment alone, bitwise.
void RunSegments(const DecoderConfig& c, const DecoderWeights& w, const std::vector<Segment>& segments,
                 ThreadPool& pool, std::vector<float>* last) {
  const size_t H = static_cast<size_t>(c.hidden_size), hd = static_cast<size_t>(c.head_dim);
  const size_t nH = static_cast<size_t>(c.num_heads), nKV = static_cast<size_t>(c.num_kv_heads);
  const size_t I = static_cast<size_t>(c.intermediate_size), half = hd / 2;
  std::vector<size_t> first_row(segments.size() + 1, 0);
  for (size_t g = 0; g < segments.size(); ++g) first_row[g + 1] = first_row[g] + segments[g].n;
  const size_t n = first_row.back();
  std::vector<float> x(n * H), h(n * H), q(n * nH * hd), k(n * nKV * hd), v(n * nKV * hd), ctx(n * nH * hd), attn(n * H);
  std::vector<float> gate(n * I), up(n * I), down(n * H);
  // Each row's rotary angles, the same in every layer and head.
  std::vector<float> cos(n * half), sin(n * half);
  for (size_t g = 0; g < segments.size(); ++g) {
    const Segment& seg = segments[g];
    if (seg.cache->k.empty()) seg.cache->k.resize(static_cast<size_t>(c.num_layers)), seg.cache->v.resize(static_cast<size_t>(c.num_layers));
    for (size_t t = 0; t < seg.n; ++t) {
      const size_t row = first_row[g] + t;
      std::copy_n(w.embed.data() + static_cast<size_t>(seg.tokens[t]) * H, H, x.data() + row * H);
      ref::RopeAngles(c.head_dim, seg.cache->length + static_cast<int32_t>(t), c.rope_theta, cos.data() + row * half,
                      sin.data() + row * half);
    }
  }
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const DecoderLayerWeights& lw = w.layers[l];
    h = x;
    for (size_t t = 0; t < n; ++t) ref::RmsNorm(h.data() + t * H, H, lw.input_norm.data(), c.rms_norm_eps);
    ref::LinearForward(pool, h.data(), n, lw.q, q.data());
    ref::LinearForward(pool, h.data(), n, lw.k, k.data());
    ref::LinearForward(pool, h.data(), n, lw.v, v.data());
    for (size_t t = 0; t < n; ++t) {
      for (size_t j = 0; j < nH; ++j) {
        ref::RmsNorm(q.data() + (t * nH + j) * hd, hd, lw.q_norm.data(), c.rms_norm_eps);
        ref::RopeRotate(q.data() + (t * nH + j) * hd, c.head_dim, cos.data() + t * half, sin.data() + t * half);
      }
      for (size_t j = 0; j < nKV; ++j) {
        ref::RmsNorm(k.data() + (t * nKV + j) * hd, hd, lw.k_norm.data(), c.rms_norm_eps);
        ref::RopeRotate(k.data() + (t * nKV + j) * hd, c.head_dim, cos.data() + t * half, sin.data() + t * half);
      }
    }
    for (size_t g = 0; g < segments.size(); ++g) {
      const size_t row = first_row[g], rows = segments[g].n, kv_row = row * nKV * hd, kv_rows = rows * nKV * hd;
      std::vector<float>& K = segments[g].cache->k[l];
      std::vector<float>& V = segments[g].cache->v[l];
      K.insert(K.end(), k.begin() + kv_row, k.begin() + kv_row + kv_rows);
      V.insert(V.end(), v.begin() + kv_row, v.begin() + kv_row + kv_rows);
      ref::CausalAttention(pool, q.data() + row * nH * hd, K.data(), V.data(), rows,
                           static_cast<size_t>(segments[g].cache->length), c.num_heads, c.num_kv_heads, c.head_dim,
                           ctx.data() + row * nH * hd);
    }
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
  last->resize(segments.size() * H);
  for (size_t g = 0; g < segments.size(); ++g) {
    segments[g].cache->length += static_cast<int32_t>(segments[g].n);
    std::copy_n(x.data() + (first_row[g + 1] - 1) * H, H, last->data() + g * H);
  }
}

// Answer logits of each last hidden state: final RMSNorm, then the answer rows.
void Answer(const DecoderConfig& c, const DecoderWeights& w, std::vector<float>& last, ThreadPool& pool, float* out) {
  const size_t H = static_cast<size_t>(c.hidden_size), rows = last.size() / H;
  for (size_t r = 0; r < rows; ++r) ref::RmsNorm(last.data() + r * H, H, w.final_norm.data(), c.rms_norm_eps);
  ref::LinearForward(pool, last.data(), rows, w.answer, out);
}

}  // namespace

Status DecoderScoreReference(const DecoderConfig& c, const DecoderWeights& w, const DecoderBatch& batch, ThreadPool& pool,
                             std::vector<float>* out, size_t step_tokens) {
  RETURN_IF_ERROR(ValidateDecoderBatch(batch, c));
  step_tokens = std::max<size_t>(step_tokens, 1);
  // Each prefix runs once; its cache is copied for every sequence that continues it.
  std::vector<KvCache> prefixes(static_cast<size_t>(batch.num_prefixes()));
  std::vector<float> last;
  std::vector<Segment> step;
  size_t step_rows = 0;
  for (int32_t p = 0; p < batch.num_prefixes(); ++p) {
    const size_t length = static_cast<size_t>(batch.prefix_length(p));
    if (!step.empty() && step_rows + length > step_tokens) RunSegments(c, w, step, pool, &last), step.clear(), step_rows = 0;
    step.push_back({batch.prefix_ids.data() + batch.prefix_cu[p], length, &prefixes[static_cast<size_t>(p)]});
    step_rows += length;
  }
  if (!step.empty()) RunSegments(c, w, step, pool, &last);
  // The sequences, a step's worth at a time (each step holds its sequences' caches).
  const PackedBatch& seqs = batch.sequences;
  const size_t answers = static_cast<size_t>(w.answer.out);
  out->assign(static_cast<size_t>(seqs.num_seqs()) * answers, 0.0f);
  for (int32_t s0 = 0; s0 < seqs.num_seqs();) {
    int32_t s1 = s0 + 1;
    while (s1 < seqs.num_seqs() && static_cast<size_t>(seqs.cu_seqlens[s1 + 1] - seqs.cu_seqlens[s0]) <= step_tokens) ++s1;
    std::vector<KvCache> caches(static_cast<size_t>(s1 - s0));
    step.clear();
    for (int32_t s = s0; s < s1; ++s) {
      const int32_t p = batch.prefix_of[s];
      KvCache& cache = caches[static_cast<size_t>(s - s0)];
      if (p >= 0) cache = prefixes[static_cast<size_t>(p)];
      const int32_t begin = seqs.cu_seqlens[s];
      step.push_back({seqs.token_ids.data() + begin, static_cast<size_t>(seqs.cu_seqlens[s + 1] - begin), &cache});
    }
    RunSegments(c, w, step, pool, &last);
    Answer(c, w, last, pool, out->data() + static_cast<size_t>(s0) * answers);
    s0 = s1;
  }
  return Status::Ok();
}

}  // namespace crossrank
