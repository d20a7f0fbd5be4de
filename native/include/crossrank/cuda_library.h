// Access to the CUDA backend library, opened with dlopen on first use.
//
// The addon links no CUDA code. The first call that needs CUDA (or asks about it) looks
// for libcrossrank_cuda.so next to the addon (or at $CROSSRANK_CUDA_LIBRARY), opens it,
// checks its ABI version and probes the driver and devices. Any failure is recorded as
// a reason, never thrown: CPU work goes on unaffected.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "crossrank/batch.h"
#include "crossrank/cuda_element.h"
#include "crossrank/score_head.h"
#include "crossrank/status.h"

namespace crossrank {

struct DecoderBatch;

struct CudaDeviceInfo {
  std::string name;
  int major = 0, minor = 0;
  uint64_t total_memory = 0, free_memory = 0;
  int multiprocessors = 0;
  bool kernels_available = false;  // false: the library holds no code for this architecture
};

struct CudaAvailability {
  bool available = false;
  // Stable reason codes: "ok", "disabled", "library-missing", "library-invalid",
  // "abi-mismatch", "no-driver", "driver-too-old", "no-device", "init-failed".
  std::string reason_code;
  std::string reason;        // human-readable, says what to do where it can
  std::string library_path;  // where the backend library was looked for
  int driver_version = 0;    // e.g. 13000
  int runtime_version = 0;
  std::vector<CudaDeviceInfo> devices;
};

class CudaLibrary {
 public:
  static CudaLibrary& Instance();

  // Opens and probes the library the first time; later calls return the same answer.
  const CudaAvailability& Availability();

  // Whether cuBLASLt opens for the CUDA backend (CROSSRANK_CUDA_GEMM=cublaslt runs the linear
  // layers there): true and "cuBLASLt <version> (<file>)", or false and why not. Opens it
  // (a large library) only when asked.
  bool CublasLtInfo(std::string* detail);

  // Score-head activation on `device`. kBackendUnavailable when CUDA is not available.
  Status CheckDevice(int device);
  Status ScoreHead(int device, const ScoreHeadParams& params, const float* logits, float* out);

  // The encoder on the GPU: weights uploaded once (desc is a crossrank_cuda_encoder_desc).
  Status CreateEncoder(int device, const void* desc, void** handle);
  // `element` (the type the handle was created with) only shapes the error an overflow gives.
  Status EncoderForward(void* handle, const PackedBatch& batch, const std::vector<int32_t>& positions,
                        int32_t num_labels, CudaElementType element, std::vector<float>* logits);
  void DestroyEncoder(void* handle);

  // The decoder on the GPU (desc is a crossrank_cuda_decoder_desc); the batch is validated.
  Status CreateDecoder(int device, const void* desc, void** handle);
  Status DecoderScore(void* handle, const DecoderBatch& batch, int32_t num_answers, CudaElementType element,
                      std::vector<float>* logits);
  void DestroyDecoder(void* handle);

 private:
  CudaLibrary() = default;
  void Load();

  std::once_flag once_;
  CudaAvailability availability_;
  void* handle_ = nullptr;
  void* score_head_ = nullptr;
  void* encoder_create_ = nullptr;
  void* encoder_forward_ = nullptr;
  void* encoder_destroy_ = nullptr;
  void* decoder_create_ = nullptr;
  void* decoder_score_ = nullptr;
  void* decoder_destroy_ = nullptr;
  void* cublaslt_info_ = nullptr;  // optional: libraries before it lack it
};

// Directory of the loaded addon (found with dladdr), where the backend library is expected.
std::string ModuleDirectory();

}  // namespace crossrank
