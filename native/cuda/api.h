// The C ABI of libcrossrank_cuda, the CUDA backend library.
//
// The addon never links this library: it dlopen()s it (runtime/cuda_library.cc) so that
// a machine without CUDA, without a GPU or without the library still loads the addon.
// Plain C types only; bump CROSSRANK_CUDA_ABI_VERSION on any change.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CROSSRANK_CUDA_ABI_VERSION 5  // 3: the decoder (Qwen3 rerankers); 4: its element type, layers fed one at a time; 5: the encoder's element type and layer feed, devices' kernels_available
#define CROSSRANK_CUDA_MAX_DEVICES 16

#ifdef __cplusplus
extern "C" {
#endif

// Why CUDA can or cannot be used (probe result).
typedef enum {
  CROSSRANK_CUDA_OK = 0,
  CROSSRANK_CUDA_NO_DRIVER = 1,       // libcuda.so.1 (the NVIDIA driver) is not installed
  CROSSRANK_CUDA_DRIVER_TOO_OLD = 2,  // the driver is older than the CUDA runtime we were built with
  CROSSRANK_CUDA_NO_DEVICE = 3,       // driver present, no usable GPU
  CROSSRANK_CUDA_INIT_FAILED = 4,     // any other CUDA error during initialisation
} crossrank_cuda_probe_code;

typedef struct {
  char name[256];
  int major, minor;            // compute capability
  uint64_t total_memory;       // bytes
  uint64_t free_memory;        // bytes
  int multiprocessors;
  int kernels_available;       // 1: this build has code the device runs (0: an older architecture)
} crossrank_cuda_device;

typedef struct {
  int code;                    // crossrank_cuda_probe_code
  char message[512];           // human-readable reason when code != OK
  int driver_version;          // e.g. 13000, 0 when unknown
  int runtime_version;         // version of the statically linked cudart
  int device_count;
  crossrank_cuda_device devices[CROSSRANK_CUDA_MAX_DEVICES];
} crossrank_cuda_probe_result;

// Return codes of the op entry points; the message buffer says more.
typedef enum {
  CROSSRANK_CUDA_STATUS_OK = 0,
  CROSSRANK_CUDA_STATUS_INVALID_ARGUMENT = 1,
  CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY = 2,
  CROSSRANK_CUDA_STATUS_ERROR = 3,
} crossrank_cuda_status;

typedef int (*crossrank_cuda_abi_version_fn)(void);
typedef void (*crossrank_cuda_probe_fn)(crossrank_cuda_probe_result* out);
// logits: rows x num_labels (host memory); out: rows (host memory).
typedef int (*crossrank_cuda_score_head_fn)(int device, const float* logits, int64_t rows, int32_t num_labels,
                                            int32_t activation, int32_t positive_index, float* out,
                                            char* message, size_t message_len);

// The 16-bit type of the weight matrices and activations of a forward pass (norm parameters,
// biases and the decoder's residual stream stay fp32). bf16 has fp32's range: LLM checkpoints
// are trained in it, and their activations can exceed fp16's largest value (65,504). fp16
// keeps 3 more mantissa bits.
typedef enum {
  CROSSRANK_CUDA_BF16 = 0,
  CROSSRANK_CUDA_FP16 = 1,
} crossrank_cuda_element_type;

// ---- the encoder (BERT / RoBERTa sequence classifier) -------------------------------
// Host fp32 weights (PyTorch layouts: Linear weight [out x in]); the library uploads them
// once, linear and embedding weights in the element type, biases and LayerNorm parameters as
// fp32.
typedef struct {
  const float* weight;
  const float* bias;
  int out, in;
} crossrank_cuda_linear;

typedef struct {
  const float* gamma;
  const float* beta;
} crossrank_cuda_norm;

typedef struct {
  crossrank_cuda_linear query, key, value, attention_out, intermediate, output;
  crossrank_cuda_norm attention_norm, output_norm;
} crossrank_cuda_layer;

typedef struct {
  int roberta;       // 0: BERT, 1: RoBERTa (token type 0 throughout)
  int element_type;  // crossrank_cuda_element_type; set it (0 is bf16, the encoders' usual type is fp16)
  int vocab_size, hidden_size, num_layers, num_heads, intermediate_size, max_positions, type_vocab_size, num_labels;
  float layer_norm_eps;
  const float* word_embeddings;
  const float* position_embeddings;
  const float* token_type_embeddings;
  crossrank_cuda_norm embedding_norm;
  // The layers, through load_layer (as the decoder's): called for layers 0, 1, ... in turn
  // during creation, it fills *out with pointers that stay valid until its next call; non-zero:
  // stop (creation fails). The caller needs only one layer in host memory at a time.
  int (*load_layer)(void* context, int layer, crossrank_cuda_layer* out);
  void* load_context;
  crossrank_cuda_linear head_dense, classifier;
} crossrank_cuda_encoder_desc;

typedef int (*crossrank_cuda_encoder_create_fn)(int device, const crossrank_cuda_encoder_desc* desc, void** handle,
                                                char* message, size_t message_len);
// One packed batch: ids, type ids and positions per token, cumulative lengths; raw logits
// [num_seqs x num_labels] out. Calls on one handle are serialised.
typedef int (*crossrank_cuda_encoder_forward_fn)(void* handle, const int* token_ids, const int* type_ids,
                                                 const int* positions, const int* cu_seqlens, int num_seqs,
                                                 int total_tokens, int max_seqlen, float* logits, char* message,
                                                 size_t message_len);
typedef void (*crossrank_cuda_encoder_destroy_fn)(void* handle);

// ---- the decoder (Qwen3ForCausalLM rerankers) ----------------------------------------
// Host fp32 weights, PyTorch layouts, no biases. Linear and embedding weights are uploaded
// in the element type (q/k/v fused into one matrix, gate/up into another), norms and the
// answer rows as fp32. Only the answer rows of the output layer exist on the device.

typedef struct {
  const float *input_norm, *post_norm, *q_norm, *k_norm;  // [hidden], [hidden], [head_dim], [head_dim]
  const float *q, *k, *v, *o, *gate, *up, *down;           // [out x in]
} crossrank_cuda_decoder_layer;

typedef struct {
  int vocab_size, hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads, head_dim, max_positions;
  int num_answers;
  int element_type;  // crossrank_cuda_element_type (0, the zero-initialised default: bf16)
  float rms_norm_eps;
  double rope_theta;
  const float* embed;                          // [vocab x hidden]
  // The layers, through load_layer: called for layers 0, 1, ... in turn during creation, it
  // fills *out with pointers that stay valid until its next call; non-zero: stop (creation
  // fails). The caller needs only one layer in host memory at a time.
  int (*load_layer)(void* context, int layer, crossrank_cuda_decoder_layer* out);
  void* load_context;
  const float* final_norm;                     // [hidden]
  const float* answer;                         // [num_answers x hidden]
} crossrank_cuda_decoder_desc;

typedef int (*crossrank_cuda_decoder_create_fn)(int device, const crossrank_cuda_decoder_desc* desc, void** handle,
                                                char* message, size_t message_len);
// One batch of prompts: prefixes (prefix_cu [num_prefixes + 1], may be 0 prefixes) run once
// with their keys and values kept; sequences (cu_seqlens [num_seqs + 1]) each continue
// prefix_of[s] (or -1: whole). Answer logits [num_seqs x num_answers] at each sequence's last
// token. Inputs are validated by the caller (ids in the vocabulary, lengths, indices).
typedef int (*crossrank_cuda_decoder_score_fn)(void* handle, const int* prefix_ids, const int* prefix_cu,
                                               int num_prefixes, const int* token_ids, const int* cu_seqlens,
                                               const int* prefix_of, int num_seqs, float* logits, char* message,
                                               size_t message_len);
typedef void (*crossrank_cuda_decoder_destroy_fn)(void* handle);

// Test entry points for the op harness (host fp32 in and out; 16-bit on the device: fp16, or
// bf16 with CROSSRANK_CUDA_OP_ELEMENT=bf16).
// bias may be null (no bias, as a decoder's layers). CROSSRANK_CUDA_GEMM picks the kernel
// (pipelined, wide, wmma64) or cuBLASLt (cublaslt).
typedef int (*crossrank_cuda_op_linear_fn)(const float* x, const float* w, const float* bias, float* y, int m, int n,
                                           int k, int gelu, char* message, size_t message_len);
// 1 when cuBLASLt opens in this process (CROSSRANK_CUBLASLT, else libcublasLt.so.13/.12), with
// "cuBLASLt <version> (<file>)" in out; 0 with the reason.
typedef int (*crossrank_cuda_cublaslt_info_fn)(char* out, size_t out_len);
typedef int (*crossrank_cuda_op_add_layernorm_fn)(float* x, const float* residual, const float* gamma,
                                                  const float* beta, int rows, int dim, float eps, char* message,
                                                  size_t message_len);
typedef int (*crossrank_cuda_op_attention_fn)(const float* q, const float* k, const float* v, const int* cu_seqlens,
                                              int num_seqs, int num_heads, int head_dim, float* ctx, char* message,
                                              size_t message_len);

// Kernel time of one op (ms per launch, averaged over `iters` after a warm-up) on zero-filled
// device buffers: op 0 linear, shape {m, n, k, gelu}; op 1 varlen attention, shape
// {sequences, length, heads, head_dim}; op 2 residual LayerNorm, shape {rows, dim}; op 3
// decoder attention, shape {sequences, length, prefix length, heads, kv_heads, head_dim}
// (every sequence continuing the one prefix).
typedef int (*crossrank_cuda_op_bench_fn)(int op, const int* shape, int iters, double* ms, char* message,
                                          size_t message_len);

// Decoder ops (host fp32 in and out). x: [rows x dim] fp32 residual stream, updated to
// x + delta (delta may be null); out = RMSNorm(x) * gamma.
typedef int (*crossrank_cuda_op_add_rmsnorm_fn)(float* x, const float* delta, const float* gamma, int rows, int dim,
                                                float eps, float* out, char* message, size_t message_len);
// qkv [tokens x (heads + 2 kv_heads) x head_dim] -> q (normed, rotated), k (normed, rotated), v.
typedef int (*crossrank_cuda_op_qk_norm_rope_fn)(const float* qkv, const int* positions, const float* q_norm,
                                                 const float* k_norm, int tokens, int heads, int kv_heads,
                                                 int head_dim, float eps, double theta, float* q, float* k, float* v,
                                                 char* message, size_t message_len);
// Causal grouped-query attention; prefix_k/v [prefix tokens x kv_heads x head_dim] may be null
// when num_prefixes is 0.
typedef int (*crossrank_cuda_op_decoder_attention_fn)(const float* q, const float* k, const float* v,
                                                      const int* cu_seqlens, int num_seqs, const float* prefix_k,
                                                      const float* prefix_v, const int* prefix_cu, int num_prefixes,
                                                      const int* prefix_of, int heads, int kv_heads, int head_dim,
                                                      float* ctx, char* message, size_t message_len);
// gate_up [tokens x 2 inter] (gate, then up) -> out [tokens x inter] = SiLU(gate) * up.
typedef int (*crossrank_cuda_op_swiglu_fn)(const float* gate_up, int tokens, int inter, float* out, char* message,
                                           size_t message_len);
// Per sequence: v = x[last[s]] + delta[last[s]], RMSNorm(v) * norm, then the answer rows.
typedef int (*crossrank_cuda_op_answer_head_fn)(const float* x, const float* delta, const int* last, int num_seqs,
                                                int rows, const float* norm, const float* answer, int hidden,
                                                int num_answers, float eps, float* logits, char* message,
                                                size_t message_len);

#ifdef __cplusplus
}
#endif
