#include "crossrank/cuda_library.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "crossrank/decoder.h"
#include "cuda/api.h"

namespace crossrank {

namespace {

constexpr const char* kLibraryName = "libcrossrank_cuda.so";

std::string DriverVersionText(int v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

std::string ModuleDirectory() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&ModuleDirectory), &info) == 0 || !info.dli_fname) return ".";
  std::string path = info.dli_fname;
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

CudaLibrary& CudaLibrary::Instance() {
  static CudaLibrary* instance = new CudaLibrary();  // never destroyed: outlives every worker thread
  return *instance;
}

const CudaAvailability& CudaLibrary::Availability() {
  std::call_once(once_, [this] { Load(); });
  return availability_;
}

void CudaLibrary::Load() {
  CudaAvailability& a = availability_;
  const char* override_path = std::getenv("CROSSRANK_CUDA_LIBRARY");
  a.library_path = override_path && *override_path ? override_path : ModuleDirectory() + "/" + kLibraryName;

  const char* switch_env = std::getenv("CROSSRANK_CUDA");
  if (switch_env && std::string(switch_env) == "0") {
    a.reason_code = "disabled";
    a.reason = "CUDA disabled by CROSSRANK_CUDA=0";
    return;
  }
  if (!FileExists(a.library_path)) {
    a.reason_code = "library-missing";
    a.reason = "CUDA backend library not found at " + a.library_path +
#ifdef CROSSRANK_BUILT_WITH_CUDA
               " (it is built with the addon; reinstall crossrank)";
#else
               " (this addon was built without nvcc; install the CUDA toolkit and run `npm run build:native`)";
#endif
    return;
  }
  dlerror();
  handle_ = dlopen(a.library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char* err = dlerror();
    a.reason_code = "library-invalid";
    a.reason = std::string("cannot open CUDA backend library: ") + (err ? err : "unknown dlopen error");
    return;
  }
  // The ABI version first: an older library lacks newer entry points, and "rebuild" is
  // the useful answer then.
  auto abi_version = reinterpret_cast<crossrank_cuda_abi_version_fn>(dlsym(handle_, "crossrank_cuda_abi_version"));
  auto probe = reinterpret_cast<crossrank_cuda_probe_fn>(dlsym(handle_, "crossrank_cuda_probe"));
  auto give_up = [&](const char* code, std::string reason) {
    a.reason_code = code;
    a.reason = std::move(reason);
    dlclose(handle_);
    handle_ = score_head_ = encoder_create_ = encoder_forward_ = encoder_destroy_ = nullptr;
    decoder_create_ = decoder_score_ = decoder_destroy_ = cublaslt_info_ = nullptr;
  };
  if (!abi_version || !probe) {
    return give_up("library-invalid", a.library_path + " is not a crossrank CUDA backend (missing entry points)");
  }
  if (abi_version() != CROSSRANK_CUDA_ABI_VERSION) {
    return give_up("abi-mismatch", "CUDA backend library has ABI version " + std::to_string(abi_version()) +
                                       ", the addon needs " + std::to_string(CROSSRANK_CUDA_ABI_VERSION) +
                                       " (rebuild both with `npm run build:native`)");
  }
  score_head_ = dlsym(handle_, "crossrank_cuda_score_head");
  encoder_create_ = dlsym(handle_, "crossrank_cuda_encoder_create");
  encoder_forward_ = dlsym(handle_, "crossrank_cuda_encoder_forward");
  encoder_destroy_ = dlsym(handle_, "crossrank_cuda_encoder_destroy");
  decoder_create_ = dlsym(handle_, "crossrank_cuda_decoder_create");
  decoder_score_ = dlsym(handle_, "crossrank_cuda_decoder_score");
  decoder_destroy_ = dlsym(handle_, "crossrank_cuda_decoder_destroy");
  cublaslt_info_ = dlsym(handle_, "crossrank_cuda_cublaslt_info");
  if (!score_head_ || !encoder_create_ || !encoder_forward_ || !encoder_destroy_ || !decoder_create_ || !decoder_score_ ||
      !decoder_destroy_) {
    return give_up("library-invalid", a.library_path + " lacks entry points of its ABI version");
  }

  crossrank_cuda_probe_result result;
  probe(&result);
  a.driver_version = result.driver_version;
  a.runtime_version = result.runtime_version;
  switch (result.code) {
    case CROSSRANK_CUDA_OK: a.reason_code = "ok"; break;
    case CROSSRANK_CUDA_NO_DRIVER: a.reason_code = "no-driver"; break;
    case CROSSRANK_CUDA_DRIVER_TOO_OLD: a.reason_code = "driver-too-old"; break;
    case CROSSRANK_CUDA_NO_DEVICE: a.reason_code = "no-device"; break;
    default: a.reason_code = "init-failed"; break;
  }
  if (result.code != CROSSRANK_CUDA_OK) {
    a.reason = result.message;
    if (result.code == CROSSRANK_CUDA_DRIVER_TOO_OLD && result.runtime_version) {
      a.reason += " (install an NVIDIA driver for CUDA " + DriverVersionText(result.runtime_version) + " or newer)";
    }
    return;
  }
  for (int i = 0; i < result.device_count; ++i) {
    const crossrank_cuda_device& d = result.devices[i];
    a.devices.push_back({d.name, d.major, d.minor, d.total_memory, d.free_memory, d.multiprocessors, d.kernels_available != 0});
  }
  a.available = true;
  a.reason = std::to_string(result.device_count) + " device(s), driver CUDA " + DriverVersionText(result.driver_version);
}

namespace {

Status FromCudaStatus(int rc, const char* message) {
  switch (rc) {
    case CROSSRANK_CUDA_STATUS_OK: return Status::Ok();
    case CROSSRANK_CUDA_STATUS_INVALID_ARGUMENT: return Status::InvalidArgument(message);
    case CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY: return Status::OutOfMemory(message);
    default: return Status::Cuda(message);
  }
}

}  // namespace

bool CudaLibrary::CublasLtInfo(std::string* detail) {
  const CudaAvailability& a = Availability();
  if (!handle_) {
    *detail = "the CUDA backend library is not loaded (" + a.reason + ")";
    return false;
  }
  if (!cublaslt_info_) {
    *detail = "this CUDA backend library cannot use cuBLASLt";
    return false;
  }
  char text[512] = {0};
  const int ok = reinterpret_cast<crossrank_cuda_cublaslt_info_fn>(cublaslt_info_)(text, sizeof text);
  *detail = text;
  return ok != 0;
}

Status CudaLibrary::CheckDevice(int device) {
  const CudaAvailability& a = Availability();
  if (!a.available) return Status::BackendUnavailable("CUDA is not available: " + a.reason);
  if (device < 0 || device >= static_cast<int>(a.devices.size())) {
    return Status::InvalidArgument("CUDA device " + std::to_string(device) + " does not exist (" +
                                   std::to_string(a.devices.size()) + " visible)");
  }
  const CudaDeviceInfo& d = a.devices[device];
  if (!d.kernels_available) {
    // The kernels use bf16 tensor cores and asynchronous copies (sm_80); the library is built
    // for those architectures and newer (newer ones through PTX).
    return Status::BackendUnavailable("CUDA device " + std::to_string(device) + " (" + d.name + ", compute capability " +
                                      std::to_string(d.major) + "." + std::to_string(d.minor) +
                                      ") cannot run the CUDA backend's kernels, which need compute capability 8.0 "
                                      "or newer; use device 'cpu', or backend 'onnx'");
  }
  return Status::Ok();
}

namespace {

// The CUDA engine's logits are finite unless a 16-bit activation overflowed (or the weights
// hold inf or NaN): an error then, never a NaN score passed on as a result. In fp16 the likely
// cause is its range (65,504), which bf16 does not have; in bf16, the weights.
Status CheckFinite(const std::vector<float>& logits, int32_t per_row, CudaElementType element) {
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!std::isfinite(logits[i])) {
      const std::string where = "the CUDA engine produced a non-finite logit (batch row " + std::to_string(i / per_row) + ")";
      if (element == CudaElementType::kFp16) {
        return Status::Cuda(where + ": an activation past fp16's largest value (65,504), or inf/NaN in the weights; " +
                            "load with precision 'bf16' (fp32's range), or on the CPU (device 'cpu')");
      }
      return Status::Cuda(where + " in bf16: inf/NaN in the weights, or an activation past fp32's range; " +
                          "compare with the CPU (device 'cpu')");
    }
  }
  return Status::Ok();
}

}  // namespace

Status CudaLibrary::CreateEncoder(int device, const void* desc, void** handle) {
  Status s = CheckDevice(device);
  if (!s.ok()) return s;
  char message[512] = {0};
  const int rc = reinterpret_cast<crossrank_cuda_encoder_create_fn>(encoder_create_)(
      device, static_cast<const crossrank_cuda_encoder_desc*>(desc), handle, message, sizeof message);
  return FromCudaStatus(rc, message);
}

Status CudaLibrary::EncoderForward(void* handle, const PackedBatch& batch, const std::vector<int32_t>& positions,
                                   int32_t num_labels, CudaElementType element, std::vector<float>* logits) {
  int32_t max_len = 0;
  for (int32_t s = 0; s < batch.num_seqs(); ++s) max_len = std::max(max_len, batch.cu_seqlens[s + 1] - batch.cu_seqlens[s]);
  logits->assign(static_cast<size_t>(batch.num_seqs()) * num_labels, 0.0f);
  char message[512] = {0};
  const int rc = reinterpret_cast<crossrank_cuda_encoder_forward_fn>(encoder_forward_)(
      handle, batch.token_ids.data(), batch.type_ids.data(), positions.data(), batch.cu_seqlens.data(), batch.num_seqs(),
      batch.total_tokens(), max_len, logits->data(), message, sizeof message);
  if (rc != CROSSRANK_CUDA_STATUS_OK) return FromCudaStatus(rc, message);
  return CheckFinite(*logits, num_labels, element);
}

void CudaLibrary::DestroyEncoder(void* handle) {
  if (handle && encoder_destroy_) reinterpret_cast<crossrank_cuda_encoder_destroy_fn>(encoder_destroy_)(handle);
}

Status CudaLibrary::CreateDecoder(int device, const void* desc, void** handle) {
  Status s = CheckDevice(device);
  if (!s.ok()) return s;
  char message[512] = {0};
  const int rc = reinterpret_cast<crossrank_cuda_decoder_create_fn>(decoder_create_)(
      device, static_cast<const crossrank_cuda_decoder_desc*>(desc), handle, message, sizeof message);
  return FromCudaStatus(rc, message);
}

Status CudaLibrary::DecoderScore(void* handle, const DecoderBatch& b, int32_t num_answers, CudaElementType element,
                                 std::vector<float>* logits) {
  logits->assign(static_cast<size_t>(b.sequences.num_seqs()) * num_answers, 0.0f);
  char message[512] = {0};
  const int rc = reinterpret_cast<crossrank_cuda_decoder_score_fn>(decoder_score_)(
      handle, b.prefix_ids.data(), b.prefix_cu.data(), b.num_prefixes(), b.sequences.token_ids.data(),
      b.sequences.cu_seqlens.data(), b.prefix_of.data(), b.sequences.num_seqs(), logits->data(), message, sizeof message);
  if (rc != CROSSRANK_CUDA_STATUS_OK) return FromCudaStatus(rc, message);
  return CheckFinite(*logits, num_answers, element);
}

void CudaLibrary::DestroyDecoder(void* handle) {
  if (handle && decoder_destroy_) reinterpret_cast<crossrank_cuda_decoder_destroy_fn>(decoder_destroy_)(handle);
}

Status CudaLibrary::ScoreHead(int device, const ScoreHeadParams& p, const float* logits, float* out) {
  Status s = CheckDevice(device);
  if (!s.ok()) return s;
  char message[512] = {0};
  const int rc = reinterpret_cast<crossrank_cuda_score_head_fn>(score_head_)(
      device, logits, p.rows, p.num_labels, static_cast<int32_t>(p.activation), p.positive_index, out, message,
      sizeof message);
  return FromCudaStatus(rc, message);
}

}  // namespace crossrank
