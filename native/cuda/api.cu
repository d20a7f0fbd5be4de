// Entry points of libcrossrank_cuda (C ABI in cuda/api.h). Every CUDA error becomes a
// status code plus message; nothing here aborts or throws across the boundary.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda/api.h"
#include "cuda/kernels/score_head.cuh"

#define CROSSRANK_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

template <typename... Args>
void SetMessage(char* dst, size_t len, const char* fmt, Args... args) {
  if (dst && len) snprintf(dst, len, fmt, args...);
}

int StatusFromCuda(cudaError_t err, const char* what, char* message, size_t message_len) {
  if (err == cudaSuccess) return CROSSRANK_CUDA_STATUS_OK;
  SetMessage(message, message_len, "%s: %s", what, cudaGetErrorString(err));
  cudaGetLastError();  // clear the sticky-free error state so later calls start clean
  return err == cudaErrorMemoryAllocation ? CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY : CROSSRANK_CUDA_STATUS_ERROR;
}

// Frees what one call allocated, whatever path it leaves by.
struct CallResources {
  cudaStream_t stream = nullptr;
  void* device = nullptr;
  ~CallResources() {
    if (device) cudaFree(device);
    if (stream) cudaStreamDestroy(stream);
  }
};

}  // namespace

CROSSRANK_CUDA_EXPORT int crossrank_cuda_abi_version(void) { return CROSSRANK_CUDA_ABI_VERSION; }

CROSSRANK_CUDA_EXPORT void crossrank_cuda_probe(crossrank_cuda_probe_result* out) {
  memset(out, 0, sizeof(*out));
  cudaRuntimeGetVersion(&out->runtime_version);

  // The static cudart reports a missing driver as a generic error; look for the driver
  // library ourselves so the reason is precise.
#ifndef CROSSRANK_CUDA_EMU  // the CPU emulation (native/cuda/emu) needs no driver
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!driver) {
    out->code = CROSSRANK_CUDA_NO_DRIVER;
    SetMessage(out->message, sizeof(out->message), "NVIDIA driver not found (libcuda.so.1: %s)", dlerror());
    return;
  }
  dlclose(driver);
#endif

  cudaDriverGetVersion(&out->driver_version);
  if (out->driver_version > 0 && out->driver_version < out->runtime_version) {
    out->code = CROSSRANK_CUDA_DRIVER_TOO_OLD;
    char drv[32], rt[32];
    snprintf(drv, sizeof drv, "%d.%d", out->driver_version / 1000, out->driver_version % 1000 / 10);
    snprintf(rt, sizeof rt, "%d.%d", out->runtime_version / 1000, out->runtime_version % 1000 / 10);
    SetMessage(out->message, sizeof(out->message), "NVIDIA driver supports CUDA %s, the backend needs CUDA %s", drv, rt);
    return;
  }

  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaErrorNoDevice || (err == cudaSuccess && count == 0)) {
    out->code = CROSSRANK_CUDA_NO_DEVICE;
    SetMessage(out->message, sizeof(out->message), "no CUDA-capable device is visible%s",
               getenv("CUDA_VISIBLE_DEVICES") ? " (CUDA_VISIBLE_DEVICES is set)" : "");
    cudaGetLastError();
    return;
  }
  if (err == cudaErrorInsufficientDriver) {
    out->code = CROSSRANK_CUDA_DRIVER_TOO_OLD;
    SetMessage(out->message, sizeof(out->message), "%s", cudaGetErrorString(err));
    cudaGetLastError();
    return;
  }
  if (err != cudaSuccess) {
    out->code = CROSSRANK_CUDA_INIT_FAILED;
    SetMessage(out->message, sizeof(out->message), "CUDA initialisation failed: %s", cudaGetErrorString(err));
    cudaGetLastError();
    return;
  }

  out->device_count = count < CROSSRANK_CUDA_MAX_DEVICES ? count : CROSSRANK_CUDA_MAX_DEVICES;
  for (int i = 0; i < out->device_count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    crossrank_cuda_device& d = out->devices[i];
    snprintf(d.name, sizeof d.name, "%s", prop.name);
    d.major = prop.major;
    d.minor = prop.minor;
    d.total_memory = prop.totalGlobalMem;
    d.multiprocessors = prop.multiProcessorCount;
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      d.free_memory = free_bytes;
    }
    // Only a missing image marks the device unsupported: any other error here is left for the
    // first real call to report, rather than turning a usable card away.
    const cudaError_t image = crossrank::cuda::KernelImageStatus();
    d.kernels_available = image == cudaErrorNoKernelImageForDevice || image == cudaErrorInvalidDeviceFunction ? 0 : 1;
    cudaGetLastError();
  }
  cudaGetLastError();
  out->code = CROSSRANK_CUDA_OK;
}

CROSSRANK_CUDA_EXPORT int crossrank_cuda_score_head(int device, const float* logits, int64_t rows, int32_t num_labels,
                                                    int32_t activation, int32_t positive_index, float* out,
                                                    char* message, size_t message_len) {
  if (rows < 0 || num_labels < 1 || positive_index < 0 || positive_index >= num_labels || activation < 0 ||
      activation > 2) {
    SetMessage(message, message_len, "%s", "invalid score-head parameters");
    return CROSSRANK_CUDA_STATUS_INVALID_ARGUMENT;
  }
  if (rows == 0) return CROSSRANK_CUDA_STATUS_OK;
  int status = StatusFromCuda(cudaSetDevice(device), "cudaSetDevice", message, message_len);
  if (status) return status;

  CallResources res;
  status = StatusFromCuda(cudaStreamCreateWithFlags(&res.stream, cudaStreamNonBlocking), "cudaStreamCreate", message,
                          message_len);
  if (status) return status;

  // One allocation: logits | scores | nan_row.
  const size_t logits_bytes = sizeof(float) * size_t(rows) * num_labels;
  const size_t out_bytes = sizeof(float) * size_t(rows);
  const size_t out_offset = (logits_bytes + 255) / 256 * 256;
  const size_t nan_offset = (out_offset + out_bytes + 255) / 256 * 256;
  status = StatusFromCuda(cudaMalloc(&res.device, nan_offset + sizeof(int64_t)), "cudaMalloc", message, message_len);
  if (status) return status;
  char* base = static_cast<char*>(res.device);
  float* d_logits = reinterpret_cast<float*>(base);
  float* d_out = reinterpret_cast<float*>(base + out_offset);
  int64_t* d_nan = reinterpret_cast<int64_t*>(base + nan_offset);

  const int64_t no_nan = -1;
  int64_t nan_row = -1;
  if ((status = StatusFromCuda(cudaMemcpyAsync(d_logits, logits, logits_bytes, cudaMemcpyHostToDevice, res.stream),
                               "copy logits", message, message_len)) ||
      (status = StatusFromCuda(cudaMemcpyAsync(d_nan, &no_nan, sizeof no_nan, cudaMemcpyHostToDevice, res.stream),
                               "copy flag", message, message_len)) ||
      (status = StatusFromCuda(crossrank::cuda::LaunchScoreHead(d_logits, rows, num_labels, activation, positive_index,
                                                                 d_out, d_nan, res.stream),
                               "score_head kernel", message, message_len)) ||
      (status = StatusFromCuda(cudaMemcpyAsync(out, d_out, out_bytes, cudaMemcpyDeviceToHost, res.stream),
                               "copy scores", message, message_len)) ||
      (status = StatusFromCuda(cudaMemcpyAsync(&nan_row, d_nan, sizeof nan_row, cudaMemcpyDeviceToHost, res.stream),
                               "copy flag", message, message_len)) ||
      (status = StatusFromCuda(cudaStreamSynchronize(res.stream), "synchronize", message, message_len))) {
    return status;
  }
  if (nan_row >= 0) {
    SetMessage(message, message_len, "logit of row %lld is NaN", static_cast<long long>(nan_row));
    return CROSSRANK_CUDA_STATUS_INVALID_ARGUMENT;
  }
  return CROSSRANK_CUDA_STATUS_OK;
}
