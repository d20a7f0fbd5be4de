// The CUDA forward pass of decoder rerankers (Qwen3): weights uploaded once (bf16 or fp16
// matrices, the desc's choice; q/k/v fused into one projection and gate/up into another; fp32
// norms and answer rows),
// the residual stream in fp32, grow-only device buffers, pinned staging, one stream per model.
// A batch runs in one pass over the layers, its rows the prefixes (each query's prompt frame,
// once) followed by the sequences. Every linear layer and norm takes all rows at once, and in
// each layer's attention a prefix is a causal sequence of its own while a sequence attends to
// its prefix's keys and values (rows of the same layer's buffers) and to its own. A separate
// pass over the prefixes first would run every layer's products again on a few dozen rows,
// which leave most of the card idle. Row results do not depend on the other rows (the linear
// kernels and cuBLASLt's batch-invariant plans), so a sequence scores exactly as its whole
// prompt would unshared. Only the answer rows of the output layer are computed, at each
// sequence's last token. The CPU reference (native/reference/decoder_forward.cc) is its oracle.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "cuda/api.h"
#include "cuda/common.cuh"
#include "cuda/model_status.h"
#include "cuda/stage_timer.h"
#include "cuda/kernels/answer_head.cuh"
#include "cuda/kernels/decoder_attention.cuh"
#include "cuda/kernels/elementwise.cuh"
#include "cuda/kernels/gemm.cuh"
#include "cuda/kernels/linear_library.cuh"
#include "cuda/kernels/rmsnorm.cuh"
#include "cuda/kernels/rope.cuh"

#define CROSSRANK_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

namespace crossrank::cuda {
namespace {

// A device (or pinned host) buffer that only ever grows.
struct GrowBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  bool pinned = false;

  cudaError_t Ensure(size_t need) {
    if (need <= bytes) return cudaSuccess;
    Release();
    need = need + need / 4 + 256;  // headroom: batches vary a little in size
    cudaError_t e = pinned ? cudaMallocHost(&ptr, need) : cudaMalloc(&ptr, need);
    if (e != cudaSuccess) {
      ptr = nullptr;
      return e;
    }
    bytes = need;
    return cudaSuccess;
  }
  void Release() {
    if (ptr) pinned ? cudaFreeHost(ptr) : cudaFree(ptr);
    ptr = nullptr;
    bytes = 0;
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr);
  }
};

template <typename Element>
struct DecoderLayer {
  float *input_norm = nullptr, *post_norm = nullptr, *q_norm = nullptr, *k_norm = nullptr;
  Element *qkv = nullptr, *o = nullptr, *gate_up = nullptr, *down = nullptr;
};

// Device views of a batch's inputs: the prefixes' rows, then the sequences'.
struct Pass {
  int tokens = 0, num_seqs = 0, max_seqlen = 0;  // num_seqs: prefixes and sequences
  const int *ids = nullptr, *positions = nullptr, *cu = nullptr;
  const int* prefix_of = nullptr;  // per sequence the prefix it continues, or -1 (the prefixes themselves)
  const int* prefix_cu = nullptr;  // the prefixes' rows (they come first); null: no prefixes
};

// What a crossrank_cuda_decoder handle points to: a CudaDecoder of the element type chosen at
// creation.
class DecoderEngine {
 public:
  virtual ~DecoderEngine() = default;
  virtual cudaError_t Upload(const crossrank_cuda_decoder_desc& d, const char** what) = 0;
  virtual cudaError_t Score(const int* prefix_ids, const int* prefix_cu, int num_prefixes, const int* token_ids,
                            const int* cu_seqlens, const int* prefix_of, int num_seqs, float* logits,
                            const char** what) = 0;
};

// Element: __nv_bfloat16 or __half, the type of the weight matrices and of every activation
// but the fp32 residual stream.
template <typename Element>
class CudaDecoder final : public DecoderEngine {
 public:
  explicit CudaDecoder(int device) : device_(device) {
    for (GrowBuffer* b : {&pinned_ints_, &pinned_logits_}) b->pinned = true;
  }
  ~CudaDecoder() override {
    cudaSetDevice(device_);
    for (void* p : weights_) cudaFree(p);
    for (GrowBuffer* b : Buffers()) b->Release();
    if (stream_) cudaStreamDestroy(stream_);
  }

  cudaError_t Upload(const crossrank_cuda_decoder_desc& d, const char** what) override {
    c_ = d;
    c_.load_layer = nullptr;  // host pointers are not kept
    c_.load_context = nullptr;
    c_.embed = c_.final_norm = c_.answer = nullptr;
    cudaError_t e;
    if ((e = cudaSetDevice(device_)) != cudaSuccess) return *what = "cudaSetDevice", e;
    if ((e = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)) != cudaSuccess) return *what = "stream", e;
    if ((e = linear_.Init(LibraryUse::kOnRequest, /*batch_invariant=*/true)) != cudaSuccess) {
      return *what = linear_.error().c_str(), e;
    }
    const size_t H = d.hidden_size, I = d.intermediate_size, qd = size_t(d.num_heads) * d.head_dim;
    const size_t kvd = size_t(d.num_kv_heads) * d.head_dim;
    if ((e = Convert({{d.embed, size_t(d.vocab_size) * H}}, &embed_)) != cudaSuccess ||
        (e = Float(d.final_norm, H, &final_norm_)) != cudaSuccess ||
        (e = Float(d.answer, size_t(d.num_answers) * H, &answer_)) != cudaSuccess) {
      return *what = "uploading embeddings and the answer rows", e;
    }
    std::vector<float> inv_freq(d.head_dim / 2);
    for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = float(std::pow(d.rope_theta, -2.0 * double(i) / d.head_dim));
    if ((e = Float(inv_freq.data(), inv_freq.size(), &inv_freq_)) != cudaSuccess) return *what = "uploading weights", e;
    layers_.resize(d.num_layers);
    for (int l = 0; l < d.num_layers; ++l) {
      crossrank_cuda_decoder_layer src{};
      if (d.load_layer(d.load_context, l, &src) != 0) return *what = "loading layer weights", cudaErrorInvalidValue;
      DecoderLayer<Element>& dst = layers_[l];
      if ((e = Float(src.input_norm, H, &dst.input_norm)) != cudaSuccess ||
          (e = Float(src.post_norm, H, &dst.post_norm)) != cudaSuccess ||
          (e = Float(src.q_norm, d.head_dim, &dst.q_norm)) != cudaSuccess ||
          (e = Float(src.k_norm, d.head_dim, &dst.k_norm)) != cudaSuccess ||
          (e = Convert({{src.q, qd * H}, {src.k, kvd * H}, {src.v, kvd * H}}, &dst.qkv)) != cudaSuccess ||
          (e = Convert({{src.o, H * qd}}, &dst.o)) != cudaSuccess ||
          (e = Convert({{src.gate, I * H}, {src.up, I * H}}, &dst.gate_up)) != cudaSuccess ||
          (e = Convert({{src.down, H * I}}, &dst.down)) != cudaSuccess) {
        return *what = "uploading layer weights", e;
      }
    }
    return cudaSuccess;
  }

  cudaError_t Score(const int* prefix_ids, const int* prefix_cu, int num_prefixes, const int* token_ids,
                    const int* cu_seqlens, const int* prefix_of, int num_seqs, float* logits,
                    const char** what) override {
    std::lock_guard<std::mutex> lock(mutex_);
    cudaError_t e;
    if ((e = cudaSetDevice(device_)) != cudaSuccess) return *what = "cudaSetDevice", e;
    // A batch that failed part-way may have left work queued that reads the staging buffers.
    if ((e = cudaStreamSynchronize(stream_)) != cudaSuccess) return *what = "an earlier batch", e;
    const int P = num_prefixes > 0 ? prefix_cu[num_prefixes] : 0, T = cu_seqlens[num_seqs];
    const int S = num_prefixes + num_seqs, N = P + T;
    // Host side: rows, positions (a sequence continues its prefix's positions), lengths, last
    // rows. Staged as one int array: ids | positions | cu | prefix_of | prefix_cu | last, over
    // the prefixes' rows and then the sequences'.
    const size_t n_ints = 2 * size_t(N) + (S + 1) + S + (num_prefixes + 1) + num_seqs;
    if ((e = pinned_ints_.Ensure(n_ints * sizeof(int))) || (e = inputs_.Ensure(n_ints * sizeof(int)))) {
      return *what = "allocating inputs", e;
    }
    int* const h_ids = pinned_ints_.as<int>();
    int* const h_pos = h_ids + N;
    int* const h_cu = h_pos + N;
    int* const h_prefix_of = h_cu + S + 1;
    int* const h_prefix_cu = h_prefix_of + S;
    int* const h_last = h_prefix_cu + num_prefixes + 1;
    int max_len = 0;
    for (int p = 0; p < num_prefixes; ++p) {
      h_cu[p] = h_prefix_cu[p] = prefix_cu[p];
      h_prefix_of[p] = -1;
      for (int t = prefix_cu[p]; t < prefix_cu[p + 1]; ++t) h_ids[t] = prefix_ids[t], h_pos[t] = t - prefix_cu[p];
      max_len = std::max(max_len, prefix_cu[p + 1] - prefix_cu[p]);
    }
    h_prefix_cu[num_prefixes] = P;
    for (int s = 0; s < num_seqs; ++s) {
      const int pre = prefix_of[s] >= 0 ? prefix_cu[prefix_of[s] + 1] - prefix_cu[prefix_of[s]] : 0;
      h_cu[num_prefixes + s] = P + cu_seqlens[s];
      h_prefix_of[num_prefixes + s] = prefix_of[s];
      for (int t = cu_seqlens[s]; t < cu_seqlens[s + 1]; ++t) {
        h_ids[P + t] = token_ids[t];
        h_pos[P + t] = pre + t - cu_seqlens[s];
      }
      h_last[s] = P + cu_seqlens[s + 1] - 1;
      max_len = std::max(max_len, cu_seqlens[s + 1] - cu_seqlens[s]);
    }
    h_cu[S] = N;
    if ((e = Reserve(N, num_seqs)) != cudaSuccess) return *what = "allocating activations", e;
    timer_.Begin(stream_, N, num_seqs);
    if ((e = cudaMemcpyAsync(inputs_.ptr, h_ids, n_ints * sizeof(int), cudaMemcpyHostToDevice, stream_))) {
      return *what = "copying inputs", e;
    }
    timer_.Mark("inputs", stream_);
    const int* d = inputs_.as<int>();
    const int* d_prefix_of = d + 2 * N + S + 1;
    const int* d_prefix_cu = d_prefix_of + S;
    const Pass pass{N, S, max_len, d, d + N, d + 2 * N, d_prefix_of, num_prefixes > 0 ? d_prefix_cu : nullptr};
    if ((e = RunLayers(pass, what))) return e;

    const int* d_last = d_prefix_cu + num_prefixes + 1;
    AnswerHeadParams<Element> head{x_.as<float>(), down_.as<Element>(), d_last,         final_norm_, answer_,
                                   num_seqs,       c_.hidden_size,     c_.num_answers, c_.rms_norm_eps};
    if ((e = LaunchAnswerHead(head, logits_.as<float>(), stream_))) return *what = "answer head", e;
    timer_.Mark("answer head", stream_);
    const size_t out_bytes = sizeof(float) * size_t(num_seqs) * c_.num_answers;
    if ((e = cudaMemcpyAsync(pinned_logits_.ptr, logits_.ptr, out_bytes, cudaMemcpyDeviceToHost, stream_)) ||
        (e = cudaStreamSynchronize(stream_))) {
      return *what = "copying logits", e;
    }
    timer_.End();
    std::memcpy(logits, pinned_logits_.ptr, out_bytes);
    return cudaSuccess;
  }

 private:
  // Every layer over the batch. The residual stream x stays fp32; each layer's last delta
  // (the down projection) is added by the next layer's first norm, or by the answer head.
  cudaError_t RunLayers(const Pass& p, const char** what) {
    const int H = c_.hidden_size, I = c_.intermediate_size, hd = c_.head_dim;
    const int qd = c_.num_heads * hd, kvd = c_.num_kv_heads * hd;
    float* x = x_.as<float>();
    Element *h = h_.as<Element>(), *qkv = qkv_.as<Element>(), *q = q_.as<Element>(), *ctx = ctx_.as<Element>();
    Element *o = o_.as<Element>(), *gu = gate_up_.as<Element>(), *act = act_.as<Element>(), *down = down_.as<Element>();
    cudaError_t e;
    if ((e = LaunchGatherRows(embed_, p.ids, p.tokens, H, x, stream_))) return *what = "embedding", e;
    timer_.Mark("embedding", stream_);
    const Element* pending = nullptr;
    for (size_t l = 0; l < layers_.size(); ++l) {
      const DecoderLayer<Element>& L = layers_[l];
      Element *k = k_.as<Element>(), *v = v_.as<Element>();
      if ((e = LaunchAddRmsNorm(x, pending, L.input_norm, p.tokens, H, c_.rms_norm_eps, h, stream_))) {
        return *what = "input RMSNorm", e;
      }
      timer_.Mark("add+RMSNorm", stream_);
      if ((e = Linear(h, L.qkv, qkv, p.tokens, qd + 2 * kvd, H))) return *what = linear_.Describe("qkv projection"), e;
      timer_.Mark("qkv", stream_);
      QkNormRopeParams<Element> rp{qkv,      p.positions,  L.q_norm,        L.k_norm, inv_freq_,
                                   p.tokens, c_.num_heads, c_.num_kv_heads, hd,       c_.rms_norm_eps};
      if ((e = LaunchQkNormRope(rp, q, k, v, stream_))) return *what = "q/k norm and rotary embeddings", e;
      timer_.Mark("q/k norm+rotary", stream_);
      DecoderAttentionParams<Element> ap{q,       k,       v,       p.cu,         p.num_seqs,      p.max_seqlen, nullptr,
                                         nullptr, nullptr, nullptr, c_.num_heads, c_.num_kv_heads, hd};
      if (p.prefix_cu) {  // the prefixes' keys and values are this layer's first rows
        ap.prefix_k = k;
        ap.prefix_v = v;
        ap.prefix_cu = p.prefix_cu;
        ap.prefix_of = p.prefix_of;
      }
      if ((e = LaunchDecoderAttention(ap, ctx, stream_))) return *what = "attention", e;
      timer_.Mark("attention", stream_);
      if ((e = Linear(ctx, L.o, o, p.tokens, H, qd))) return *what = linear_.Describe("attention output"), e;
      timer_.Mark("attention out", stream_);
      if ((e = LaunchAddRmsNorm(x, o, L.post_norm, p.tokens, H, c_.rms_norm_eps, h, stream_))) {
        return *what = "post-attention RMSNorm", e;
      }
      timer_.Mark("add+RMSNorm", stream_);
      if ((e = Linear(h, L.gate_up, gu, p.tokens, 2 * I, H))) return *what = linear_.Describe("feed-forward"), e;
      timer_.Mark("gate/up", stream_);
      if ((e = LaunchSwiGlu(gu, p.tokens, I, act, stream_))) return *what = "SwiGLU", e;
      timer_.Mark("SwiGLU", stream_);
      if ((e = Linear(act, L.down, down, p.tokens, H, I))) return *what = linear_.Describe("feed-forward"), e;
      timer_.Mark("down", stream_);
      pending = down;
    }
    return cudaSuccess;
  }

  // Activations for the batch's rows (prefixes and sequences), logits.
  cudaError_t Reserve(int tokens, int num_seqs) {
    const size_t rows = std::max(tokens, 1), H = c_.hidden_size, I = c_.intermediate_size;
    const size_t qd = size_t(c_.num_heads) * c_.head_dim, kvd = size_t(c_.num_kv_heads) * c_.head_dim;
    const size_t elem = sizeof(Element);
    cudaError_t e;
    if ((e = x_.Ensure(rows * H * sizeof(float))) || (e = h_.Ensure(rows * H * elem)) ||
        (e = qkv_.Ensure(rows * (qd + 2 * kvd) * elem)) || (e = q_.Ensure(rows * qd * elem)) ||
        (e = k_.Ensure(rows * kvd * elem)) || (e = v_.Ensure(rows * kvd * elem)) || (e = ctx_.Ensure(rows * qd * elem)) ||
        (e = o_.Ensure(rows * H * elem)) || (e = gate_up_.Ensure(rows * 2 * I * elem)) ||
        (e = act_.Ensure(rows * I * elem)) || (e = down_.Ensure(rows * H * elem)) ||
        (e = logits_.Ensure(size_t(std::max(num_seqs, 1)) * c_.num_answers * sizeof(float))) ||
        (e = pinned_logits_.Ensure(size_t(std::max(num_seqs, 1)) * c_.num_answers * sizeof(float)))) {
      return e;
    }
    return cudaSuccess;
  }

  std::vector<GrowBuffer*> Buffers() {
    return {&x_,      &h_,   &qkv_, &q_,       &k_,      &v_,          &ctx_,          &o_,
            &gate_up_, &act_, &down_, &inputs_, &logits_, &pinned_ints_, &pinned_logits_};
  }

  // Concatenates host fp32 matrices into one device matrix of Element (rows stacked).
  cudaError_t Convert(std::initializer_list<std::pair<const float*, size_t>> parts, Element** out) {
    size_t n = 0;
    for (const auto& part : parts) n += part.second;
    std::vector<Element> staged(n);
    size_t at = 0;
    for (const auto& part : parts) {
      for (size_t i = 0; i < part.second; ++i) staged[at++] = FromFloat<Element>(part.first[i]);
    }
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, n * sizeof(Element));
    if (e != cudaSuccess) return e;
    weights_.push_back(p);
    *out = static_cast<Element*>(p);
    return cudaMemcpy(p, staged.data(), n * sizeof(Element), cudaMemcpyHostToDevice);
  }

  // Qwen3's linear layers have no bias.
  cudaError_t Linear(const Element* x, const Element* w, Element* y, int rows, size_t out, size_t in) {
    return LaunchLinear<Element>(x, w, nullptr, y, rows, int(out), int(in), Epilogue::kBias, stream_, &linear_);
  }

  cudaError_t Float(const float* host, size_t n, float** out) {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, n * sizeof(float));
    if (e != cudaSuccess) return e;
    weights_.push_back(p);
    *out = static_cast<float*>(p);
    return cudaMemcpy(p, host, n * sizeof(float), cudaMemcpyHostToDevice);
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  LinearLibrary linear_;  // cuBLASLt only with CROSSRANK_CUDA_GEMM=cublaslt (batch-invariant plans); else the own kernels
  std::mutex mutex_;
  StageTimer timer_{"decoder"};
  crossrank_cuda_decoder_desc c_{};
  std::vector<void*> weights_;
  Element* embed_ = nullptr;
  float *final_norm_ = nullptr, *answer_ = nullptr, *inv_freq_ = nullptr;
  std::vector<DecoderLayer<Element>> layers_;
  GrowBuffer x_, h_, qkv_, q_, k_, v_, ctx_, o_, gate_up_, act_, down_, inputs_, logits_;
  GrowBuffer pinned_ints_, pinned_logits_;
};

}  // namespace
}  // namespace crossrank::cuda

CROSSRANK_CUDA_EXPORT int crossrank_cuda_decoder_create(int device, const crossrank_cuda_decoder_desc* desc,
                                                        void** handle, char* message, size_t message_len) {
  using crossrank::cuda::CudaDecoder;
  using crossrank::cuda::DecoderEngine;
  *handle = nullptr;
  const bool valid = desc && desc->load_layer && desc->hidden_size > 0 && desc->hidden_size <= 8192 &&
                     desc->num_kv_heads > 0 && desc->num_heads % desc->num_kv_heads == 0 && desc->head_dim >= 2 &&
                     desc->head_dim <= 256 && desc->head_dim % 2 == 0 && desc->num_answers > 0 &&
                     (desc->element_type == CROSSRANK_CUDA_BF16 || desc->element_type == CROSSRANK_CUDA_FP16);
  if (!valid) {
    if (message && message_len) snprintf(message, message_len, "%s", "decoder shape not supported by the CUDA backend (hidden <= 8192, head_dim even and <= 256, element type bf16 or fp16)");
    return CROSSRANK_CUDA_STATUS_INVALID_ARGUMENT;
  }
  DecoderEngine* decoder = desc->element_type == CROSSRANK_CUDA_FP16
                               ? static_cast<DecoderEngine*>(new (std::nothrow) CudaDecoder<__half>(device))
                               : new (std::nothrow) CudaDecoder<__nv_bfloat16>(device);
  if (!decoder) return CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY;
  const char* what = "";
  cudaError_t e = cudaSuccess;
  try {
    e = decoder->Upload(*desc, &what);
  } catch (const std::bad_alloc&) {
    delete decoder;
    if (message && message_len) snprintf(message, message_len, "%s", "out of host memory converting weights");
    return CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY;
  }
  if (e != cudaSuccess) {
    const int status = crossrank::cuda::ModelStatus(e, what, message, message_len);  // `what` may live in decoder
    delete decoder;
    return status;
  }
  *handle = decoder;
  return CROSSRANK_CUDA_STATUS_OK;
}

CROSSRANK_CUDA_EXPORT int crossrank_cuda_decoder_score(void* handle, const int* prefix_ids, const int* prefix_cu,
                                                       int num_prefixes, const int* token_ids, const int* cu_seqlens,
                                                       const int* prefix_of, int num_seqs, float* logits,
                                                       char* message, size_t message_len) {
  if (!handle || num_prefixes < 0 || num_seqs < 0) return CROSSRANK_CUDA_STATUS_INVALID_ARGUMENT;
  if (num_seqs == 0) return CROSSRANK_CUDA_STATUS_OK;
  const char* what = "";
  cudaError_t e = cudaSuccess;
  try {
    e = static_cast<crossrank::cuda::DecoderEngine*>(handle)->Score(prefix_ids, prefix_cu, num_prefixes, token_ids,
                                                                  cu_seqlens, prefix_of, num_seqs, logits, &what);
  } catch (const std::bad_alloc&) {
    if (message && message_len) snprintf(message, message_len, "%s", "out of host memory");
    return CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY;
  }
  return e == cudaSuccess ? CROSSRANK_CUDA_STATUS_OK : crossrank::cuda::ModelStatus(e, what, message, message_len);
}

CROSSRANK_CUDA_EXPORT void crossrank_cuda_decoder_destroy(void* handle) {
  delete static_cast<crossrank::cuda::DecoderEngine*>(handle);
}
