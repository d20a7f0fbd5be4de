// The C ABI of libcrossrank_cuda, the CUDA backend library.
//
// The addon never links this library: it dlopen()s it (runtime/cuda_library.cc) so that
// a machine without CUDA, without a GPU or without the library still loads the addon.
// Plain C types only; bump CROSSRANK_CUDA_ABI_VERSION on any change.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CROSSRANK_CUDA_ABI_VERSION 2
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

// ---- the encoder (BERT / RoBERTa sequence classifier) -------------------------------
// Host fp32 weights (PyTorch layouts: Linear weight [out x in]); the library uploads them
// once, linear and embedding weights as fp16, biases and LayerNorm parameters as fp32.
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
  int roberta;  // 0: BERT, 1: RoBERTa (token type 0 throughout)
  int vocab_size, hidden_size, num_layers, num_heads, intermediate_size, max_positions, type_vocab_size, num_labels;
  float layer_norm_eps;
  const float* word_embeddings;
  const float* position_embeddings;
  const float* token_type_embeddings;
  crossrank_cuda_norm embedding_norm;
  const crossrank_cuda_layer* layers;  // num_layers entries
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

// Test entry points for the op harness (host fp32 in and out; fp16 on the device).
typedef int (*crossrank_cuda_op_linear_fn)(const float* x, const float* w, const float* bias, float* y, int m, int n,
                                           int k, int gelu, char* message, size_t message_len);
typedef int (*crossrank_cuda_op_add_layernorm_fn)(float* x, const float* residual, const float* gamma,
                                                  const float* beta, int rows, int dim, float eps, char* message,
                                                  size_t message_len);
typedef int (*crossrank_cuda_op_attention_fn)(const float* q, const float* k, const float* v, const int* cu_seqlens,
                                              int num_seqs, int num_heads, int head_dim, float* ctx, char* message,
                                              size_t message_len);

#ifdef __cplusplus
}
#endif
