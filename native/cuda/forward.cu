// The CUDA forward pass of the encoder: weights uploaded once, activation buffers grown
// on demand and reused (a simple pool), pinned staging buffers, one stream per model. Weight
// matrices and activations in fp16 (the default) or bf16, chosen at creation.
// Reads top to bottom like the CPU reference (native/reference/encoder_forward.cc), which
// is its oracle.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "cuda/api.h"
#include "cuda/common.cuh"
#include "cuda/model_status.h"
#include "cuda/stage_timer.h"
#include "cuda/kernels/attention.cuh"
#include "cuda/kernels/embedding.cuh"
#include "cuda/kernels/gemm.cuh"
#include "cuda/kernels/head.cuh"
#include "cuda/kernels/layernorm.cuh"
#include "cuda/kernels/linear_library.cuh"

#define CROSSRANK_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

namespace crossrank::cuda {
namespace {

struct Error {
  cudaError_t code;
  const char* what;
};

// Attention runs on tensor cores at head dims 16, 32, 64 and 128 (kernels/attention_tensor_core.cu).
// Another head dim up to 128 (TinyBERT-L4's 26) is padded to the next of them at upload: the
// stacked q/k/v projection gets zero rows, so each head's extra dimensions are exactly 0; the
// output projection gets zero columns for them; and q is scaled by sqrt(padded / head_dim), so
// the kernel's 1 / sqrt(padded) is the model's 1 / sqrt(head_dim). The same products plus
// zeros, on tensor cores instead of the one-warp-per-row kernel.
int PaddedHeadDim(int head_dim) {
  for (int d : {16, 32, 64, 128}) {
    if (head_dim <= d) return d;
  }
  return head_dim;
}

template <typename T>
struct DeviceLinear {
  T* w = nullptr;
  float* b = nullptr;
  T* b_same_type = nullptr;  // the bias in T, for cuBLASLt (uploaded only when it runs the layers)
  int out = 0, in = 0;
};
struct DeviceNorm {
  float* gamma = nullptr;
  float* beta = nullptr;
};
template <typename T>
struct DeviceLayer {
  DeviceLinear<T> qkv;  // query, key and value stacked: one [3 * hidden x hidden] projection
  DeviceLinear<T> attention_out, intermediate, output;
  DeviceNorm attention_norm, output_norm;
};

// What a crossrank_cuda_encoder handle points to: a CudaEncoder of the element type chosen at
// creation.
class EncoderEngine {
 public:
  virtual ~EncoderEngine() = default;
  virtual cudaError_t Upload(const crossrank_cuda_encoder_desc& d, const char** what) = 0;
  virtual cudaError_t Forward(const int* token_ids, const int* type_ids, const int* positions, const int* cu_seqlens,
                              int num_seqs, int total, int max_seqlen, float* logits, const char** what) = 0;
};

// T: __half or __nv_bfloat16, the type of the weight matrices and of every activation.
template <typename T>
class CudaEncoder final : public EncoderEngine {
 public:
  explicit CudaEncoder(int device) : device_(device) {}
  ~CudaEncoder() override {
    cudaSetDevice(device_);
    for (void* p : weights_) cudaFree(p);
    FreeActivations();
    if (stream_) cudaStreamDestroy(stream_);
  }

  // Returns cudaSuccess or the first error (with *what naming the step).
  cudaError_t Upload(const crossrank_cuda_encoder_desc& d, const char** what) override {
    desc_ = d;
    desc_.load_layer = nullptr;  // host pointers are not kept
    desc_.load_context = nullptr;
    desc_.word_embeddings = desc_.position_embeddings = desc_.token_type_embeddings = nullptr;
    cudaError_t e;
    if ((e = cudaSetDevice(device_)) != cudaSuccess) return *what = "cudaSetDevice", e;
    if ((e = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)) != cudaSuccess) return *what = "stream", e;
    if ((e = linear_.Init(LibraryUse::kWhereItOpens)) != cudaSuccess) return *what = linear_.error().c_str(), e;
    const size_t H = d.hidden_size;
    head_dim_ = d.hidden_size / d.num_heads;
    padded_head_dim_ = PaddedHeadDim(head_dim_);
    if ((e = Convert(d.word_embeddings, size_t(d.vocab_size) * H, &word_)) != cudaSuccess ||
        (e = Convert(d.position_embeddings, size_t(d.max_positions) * H, &position_)) != cudaSuccess ||
        (e = Convert(d.token_type_embeddings, size_t(d.type_vocab_size) * H, &type_)) != cudaSuccess ||
        (e = Norm(d.embedding_norm, H, &embedding_norm_)) != cudaSuccess) {
      return *what = "uploading embeddings", e;
    }
    layers_.resize(d.num_layers);
    for (int l = 0; l < d.num_layers; ++l) {
      crossrank_cuda_layer src{};
      if (d.load_layer(d.load_context, l, &src) != 0) return *what = "loading layer weights", cudaErrorInvalidValue;
      // q, k and v are stacked into one projection: each must be [hidden x hidden].
      for (const crossrank_cuda_linear* p : {&src.query, &src.key, &src.value}) {
        if (p->out != d.hidden_size || p->in != d.hidden_size) return *what = "layer shapes", cudaErrorInvalidValue;
      }
      DeviceLayer<T>& dst = layers_[l];
      if ((e = StackedLin(src.query, src.key, src.value, &dst.qkv)) != cudaSuccess ||
          (e = PaddedInputLin(src.attention_out, &dst.attention_out)) != cudaSuccess ||
          (e = Lin(src.intermediate, &dst.intermediate)) != cudaSuccess || (e = Lin(src.output, &dst.output)) != cudaSuccess ||
          (e = Norm(src.attention_norm, H, &dst.attention_norm)) != cudaSuccess ||
          (e = Norm(src.output_norm, H, &dst.output_norm)) != cudaSuccess) {
        return *what = "uploading layer weights", e;
      }
    }
    if ((e = Lin(d.head_dense, &head_dense_)) != cudaSuccess || (e = Lin(d.classifier, &classifier_)) != cudaSuccess) {
      return *what = "uploading the head", e;
    }
    return cudaSuccess;
  }

  cudaError_t Forward(const int* token_ids, const int* type_ids, const int* positions, const int* cu_seqlens,
                      int num_seqs, int total, int max_seqlen, float* logits, const char** what) override {
    std::lock_guard<std::mutex> lock(mutex_);
    cudaError_t e;
    if ((e = cudaSetDevice(device_)) != cudaSuccess) return *what = "cudaSetDevice", e;
    if ((e = Reserve(total, num_seqs)) != cudaSuccess) return *what = "allocating activations", e;
    // Inputs through pinned memory, asynchronously on the model's stream.
    timer_.Begin(stream_, total, num_seqs);
    std::memcpy(h_tokens_, token_ids, sizeof(int) * total);
    std::memcpy(h_types_, type_ids, sizeof(int) * total);
    std::memcpy(h_positions_, positions, sizeof(int) * total);
    std::memcpy(h_cu_, cu_seqlens, sizeof(int) * (num_seqs + 1));
    if ((e = cudaMemcpyAsync(d_tokens_, h_tokens_, sizeof(int) * total, cudaMemcpyHostToDevice, stream_)) ||
        (e = cudaMemcpyAsync(d_types_, h_types_, sizeof(int) * total, cudaMemcpyHostToDevice, stream_)) ||
        (e = cudaMemcpyAsync(d_positions_, h_positions_, sizeof(int) * total, cudaMemcpyHostToDevice, stream_)) ||
        (e = cudaMemcpyAsync(d_cu_, h_cu_, sizeof(int) * (num_seqs + 1), cudaMemcpyHostToDevice, stream_))) {
      return *what = "copying inputs", e;
    }
    timer_.Mark("inputs", stream_);
    const crossrank_cuda_encoder_desc& c = desc_;
    const int H = c.hidden_size, A = c.num_heads * padded_head_dim_;  // A: attention width, padded heads

    EmbeddingParams<T> ep{word_, position_, type_, embedding_norm_.gamma, embedding_norm_.beta, H, c.layer_norm_eps,
                          c.roberta != 0, 0};
    if ((e = LaunchEmbedding(ep, d_tokens_, d_types_, d_positions_, total, x_, stream_))) return *what = "embedding", e;
    timer_.Mark("embedding", stream_);

    for (const DeviceLayer<T>& L : layers_) {
      // One projection for q, k and v (a wider GEMM fills the card better than three),
      // read by the attention in place: row stride 3A.
      if ((e = Linear(x_, L.qkv, qkv_, total, Epilogue::kBias))) return *what = linear_.Describe("qkv projection"), e;
      timer_.Mark("qkv", stream_);
      const VarlenAttentionArgs<T> attention{qkv_,       qkv_ + A,    qkv_ + 2 * A,     size_t(3) * A, d_cu_, num_seqs,
                                             max_seqlen, c.num_heads, padded_head_dim_, ctx_,          size_t(A)};
      if ((e = LaunchVarlenAttention(attention, stream_))) return *what = "attention", e;
      timer_.Mark("attention", stream_);
      if ((e = Linear(ctx_, L.attention_out, attn_, total, Epilogue::kBias))) {
        return *what = linear_.Describe("attention output"), e;
      }
      timer_.Mark("attention out", stream_);
      if ((e = LaunchAddLayerNorm(attn_, x_, L.attention_norm.gamma, L.attention_norm.beta, total, H, c.layer_norm_eps,
                                  stream_))) {
        return *what = "attention LayerNorm", e;
      }
      timer_.Mark("add+LayerNorm", stream_);
      std::swap(x_, attn_);
      if ((e = Linear(x_, L.intermediate, up_, total, Epilogue::kBiasGelu))) return *what = linear_.Describe("feed-forward"), e;
      timer_.Mark("ffn in+GELU", stream_);
      if ((e = Linear(up_, L.output, attn_, total, Epilogue::kBias))) return *what = linear_.Describe("feed-forward"), e;
      timer_.Mark("ffn out", stream_);
      if ((e = LaunchAddLayerNorm(attn_, x_, L.output_norm.gamma, L.output_norm.beta, total, H, c.layer_norm_eps,
                                  stream_))) {
        return *what = "feed-forward LayerNorm", e;
      }
      timer_.Mark("add+LayerNorm", stream_);
      std::swap(x_, attn_);
    }

    HeadParams<T> hp{head_dense_.w, head_dense_.b, classifier_.w, classifier_.b, H, c.num_labels};
    if ((e = LaunchHead(hp, x_, d_cu_, num_seqs, d_logits_, stream_))) return *what = "head", e;
    timer_.Mark("head", stream_);
    const size_t out_bytes = sizeof(float) * size_t(num_seqs) * c.num_labels;
    if ((e = cudaMemcpyAsync(h_logits_, d_logits_, out_bytes, cudaMemcpyDeviceToHost, stream_)) ||
        (e = cudaStreamSynchronize(stream_))) {
      return *what = "copying logits", e;
    }
    timer_.End();
    std::memcpy(logits, h_logits_, out_bytes);
    return cudaSuccess;
  }

 private:
  cudaError_t Linear(const T* x, const DeviceLinear<T>& L, T* y, int rows, Epilogue epilogue) {
    return LaunchLinear(x, L.w, L.b, y, rows, L.out, L.in, epilogue, stream_, &linear_, L.b_same_type);
  }

  template <typename U>
  cudaError_t Alloc(size_t count, U** out, std::vector<void*>* owner) {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, count * sizeof(U) + 256);
    if (e != cudaSuccess) return e;
    owner->push_back(p);
    *out = static_cast<U*>(p);
    return cudaSuccess;
  }

  cudaError_t Convert(const float* host, size_t n, T** out) {
    std::vector<T> h(n);
    for (size_t i = 0; i < n; ++i) h[i] = FromFloat<T>(host[i]);
    cudaError_t e = Alloc(n, out, &weights_);
    return e != cudaSuccess ? e : cudaMemcpy(*out, h.data(), n * sizeof(T), cudaMemcpyHostToDevice);
  }

  cudaError_t Float(const float* host, size_t n, float** out) {
    cudaError_t e = Alloc(n, out, &weights_);
    return e != cudaSuccess ? e : cudaMemcpy(*out, host, n * sizeof(float), cudaMemcpyHostToDevice);
  }

  // The bias as the layer kernels read it (fp32), and in T too when cuBLASLt runs the layers.
  cudaError_t Bias(const float* host, size_t n, DeviceLinear<T>* dst) {
    cudaError_t e = Float(host, n, &dst->b);
    if (e != cudaSuccess || !linear_.active()) return e;
    return Convert(host, n, &dst->b_same_type);
  }

  cudaError_t Lin(const crossrank_cuda_linear& src, DeviceLinear<T>* dst) {
    dst->out = src.out;
    dst->in = src.in;
    cudaError_t e = Convert(src.weight, size_t(src.out) * src.in, &dst->w);
    return e != cudaSuccess ? e : Bias(src.bias, src.out, dst);
  }

  // Rows of q, k and v weights stacked into one linear layer (biases likewise), each head's
  // rows followed by zero rows up to the padded head dim, q's scaled (see PaddedHeadDim).
  cudaError_t StackedLin(const crossrank_cuda_linear& q, const crossrank_cuda_linear& k, const crossrank_cuda_linear& v,
                         DeviceLinear<T>* dst) {
    const int heads = q.out / head_dim_, pd = padded_head_dim_;
    const size_t in = q.in, width = size_t(heads) * pd;  // rows per part
    std::vector<float> weight(3 * width * in, 0.0f), bias(3 * width, 0.0f);
    const crossrank_cuda_linear* parts[] = {&q, &k, &v};
    const float q_scale = std::sqrt(float(pd) / float(head_dim_));
    for (int i = 0; i < 3; ++i) {
      const float scale = i == 0 ? q_scale : 1.0f;
      for (int h = 0; h < heads; ++h) {
        for (int d = 0; d < head_dim_; ++d) {
          const size_t from = size_t(h) * head_dim_ + d, to = i * width + size_t(h) * pd + d;
          for (size_t c = 0; c < in; ++c) weight[to * in + c] = parts[i]->weight[from * in + c] * scale;
          bias[to] = parts[i]->bias[from] * scale;
        }
      }
    }
    dst->out = int(3 * width);
    dst->in = q.in;
    cudaError_t e = Convert(weight.data(), weight.size(), &dst->w);
    return e != cudaSuccess ? e : Bias(bias.data(), bias.size(), dst);
  }

  // A layer reading the attention's output (padded heads): zero columns for the padding.
  cudaError_t PaddedInputLin(const crossrank_cuda_linear& src, DeviceLinear<T>* dst) {
    if (padded_head_dim_ == head_dim_) return Lin(src, dst);
    const int heads = src.in / head_dim_, pd = padded_head_dim_;
    const size_t in = size_t(heads) * pd;
    std::vector<float> weight(size_t(src.out) * in, 0.0f);
    for (size_t o = 0; o < size_t(src.out); ++o) {
      for (int h = 0; h < heads; ++h) {
        std::memcpy(&weight[o * in + size_t(h) * pd], src.weight + o * src.in + size_t(h) * head_dim_,
                    head_dim_ * sizeof(float));
      }
    }
    dst->out = src.out;
    dst->in = int(in);
    cudaError_t e = Convert(weight.data(), weight.size(), &dst->w);
    return e != cudaSuccess ? e : Bias(src.bias, src.out, dst);
  }

  cudaError_t Norm(const crossrank_cuda_norm& src, size_t dim, DeviceNorm* dst) {
    cudaError_t e = Float(src.gamma, dim, &dst->gamma);
    return e != cudaSuccess ? e : Float(src.beta, dim, &dst->beta);
  }

  void FreeActivations() {
    for (void* p : activations_) cudaFree(p);
    activations_.clear();
    for (void* p : pinned_) cudaFreeHost(p);
    pinned_.clear();
    capacity_tokens_ = capacity_seqs_ = 0;
  }

  // Grow-only activation buffers: a batch never allocates unless it is the largest yet.
  cudaError_t Reserve(int total, int num_seqs) {
    if (total <= capacity_tokens_ && num_seqs <= capacity_seqs_) return cudaSuccess;
    FreeActivations();
    const size_t N = std::max(total, 1), S = std::max(num_seqs, 1), H = desc_.hidden_size, I = desc_.intermediate_size;
    const size_t A = size_t(desc_.num_heads) * padded_head_dim_;
    cudaError_t e;
    T** hidden[] = {&x_, &attn_};
    for (T** b : hidden) {
      if ((e = Alloc(N * H, b, &activations_)) != cudaSuccess) return e;
    }
    if ((e = Alloc(N * A, &ctx_, &activations_)) || (e = Alloc(N * 3 * A, &qkv_, &activations_)) ||
        (e = Alloc(N * I, &up_, &activations_)) ||
        (e = Alloc(N, &d_tokens_, &activations_)) || (e = Alloc(N, &d_types_, &activations_)) ||
        (e = Alloc(N, &d_positions_, &activations_)) || (e = Alloc(S + 1, &d_cu_, &activations_)) ||
        (e = Alloc(S * desc_.num_labels, &d_logits_, &activations_))) {
      return e;
    }
    void* p = nullptr;
    int** pinned_ints[] = {&h_tokens_, &h_types_, &h_positions_};
    for (int** b : pinned_ints) {
      if ((e = cudaMallocHost(&p, N * sizeof(int))) != cudaSuccess) return e;
      pinned_.push_back(p);
      *b = static_cast<int*>(p);
    }
    if ((e = cudaMallocHost(&p, (S + 1) * sizeof(int))) != cudaSuccess) return e;
    pinned_.push_back(p);
    h_cu_ = static_cast<int*>(p);
    if ((e = cudaMallocHost(&p, S * desc_.num_labels * sizeof(float))) != cudaSuccess) return e;
    pinned_.push_back(p);
    h_logits_ = static_cast<float*>(p);
    capacity_tokens_ = total;
    capacity_seqs_ = num_seqs;
    return cudaSuccess;
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  LinearLibrary linear_;  // cuBLASLt where it opens (CROSSRANK_CUDA_GEMM unset or auto) or is asked for; else the own kernels
  std::mutex mutex_;
  StageTimer timer_{"encoder"};
  crossrank_cuda_encoder_desc desc_{};
  int head_dim_ = 0, padded_head_dim_ = 0;  // see PaddedHeadDim
  std::vector<void*> weights_, activations_, pinned_;
  T *word_ = nullptr, *position_ = nullptr, *type_ = nullptr;
  DeviceNorm embedding_norm_;
  std::vector<DeviceLayer<T>> layers_;
  DeviceLinear<T> head_dense_, classifier_;
  int capacity_tokens_ = 0, capacity_seqs_ = 0;
  T *x_ = nullptr, *qkv_ = nullptr, *ctx_ = nullptr, *attn_ = nullptr, *up_ = nullptr;
  int *d_tokens_ = nullptr, *d_types_ = nullptr, *d_positions_ = nullptr, *d_cu_ = nullptr;
  float* d_logits_ = nullptr;
  int *h_tokens_ = nullptr, *h_types_ = nullptr, *h_positions_ = nullptr, *h_cu_ = nullptr;
  float* h_logits_ = nullptr;
};

}  // namespace
}  // namespace crossrank::cuda

CROSSRANK_CUDA_EXPORT int crossrank_cuda_encoder_create(int device, const crossrank_cuda_encoder_desc* desc,
                                                        void** handle, char* message, size_t message_len) {
  using crossrank::cuda::CudaEncoder;
  using crossrank::cuda::EncoderEngine;
  *handle = nullptr;
  if (!desc || desc->hidden_size <= 0 || desc->num_heads <= 0 || desc->hidden_size % desc->num_heads != 0 ||
      desc->hidden_size / desc->num_heads > 256 || !desc->load_layer ||
      (desc->element_type != CROSSRANK_CUDA_FP16 && desc->element_type != CROSSRANK_CUDA_BF16)) {
    if (message && message_len) snprintf(message, message_len, "%s", "invalid encoder description for CUDA");
    return CROSSRANK_CUDA_STATUS_INVALID_ARGUMENT;
  }
  EncoderEngine* encoder = desc->element_type == CROSSRANK_CUDA_BF16
                               ? static_cast<EncoderEngine*>(new (std::nothrow) CudaEncoder<__nv_bfloat16>(device))
                               : new (std::nothrow) CudaEncoder<__half>(device);
  if (!encoder) return CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY;
  const char* what = "";
  cudaError_t e = cudaSuccess;
  try {
    e = encoder->Upload(*desc, &what);
  } catch (const std::bad_alloc&) {
    delete encoder;
    if (message && message_len) snprintf(message, message_len, "%s", "out of host memory converting weights");
    return CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY;
  }
  if (e != cudaSuccess) {
    const int status = crossrank::cuda::ModelStatus(e, what, message, message_len);  // `what` may live in encoder
    delete encoder;
    return status;
  }
  *handle = encoder;
  return CROSSRANK_CUDA_STATUS_OK;
}

CROSSRANK_CUDA_EXPORT int crossrank_cuda_encoder_forward(void* handle, const int* token_ids, const int* type_ids,
                                                         const int* positions, const int* cu_seqlens, int num_seqs,
                                                         int total_tokens, int max_seqlen, float* logits,
                                                         char* message, size_t message_len) {
  if (!handle) return CROSSRANK_CUDA_STATUS_INVALID_ARGUMENT;
  if (num_seqs == 0) return CROSSRANK_CUDA_STATUS_OK;
  const char* what = "";
  cudaError_t e = static_cast<crossrank::cuda::EncoderEngine*>(handle)->Forward(
      token_ids, type_ids, positions, cu_seqlens, num_seqs, total_tokens, max_seqlen, logits, &what);
  return e == cudaSuccess ? CROSSRANK_CUDA_STATUS_OK : crossrank::cuda::ModelStatus(e, what, message, message_len);
}

CROSSRANK_CUDA_EXPORT void crossrank_cuda_encoder_destroy(void* handle) {
  delete static_cast<crossrank::cuda::EncoderEngine*>(handle);
}
