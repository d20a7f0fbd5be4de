// version(), cpuFeatures(), availableMemory(), cudaInfo(), cublasLtInfo(): what `crossrank doctor`
// reports from native code.
#include "crossrank/cpu_features.h"
#include "crossrank/cuda_library.h"
#include "crossrank/host_memory.h"
#include "errors.h"
#include "exports.h"

namespace crossrank::binding {
namespace {

// Probing CUDA creates a context (can take a second): do it off the JS thread.
class CudaInfoWorker : public Napi::AsyncWorker {
 public:
  explicit CudaInfoWorker(Napi::Env env)
      : Napi::AsyncWorker(env, "crossrank.cudaInfo"), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { availability_ = &CudaLibrary::Instance().Availability(); }

  void OnOK() override {
    Napi::Env env = Env();
    const CudaAvailability& a = *availability_;
    Napi::Object out = Napi::Object::New(env);
    out.Set("available", a.available);
    out.Set("reasonCode", a.reason_code);
    out.Set("reason", a.reason);
    out.Set("libraryPath", a.library_path);
    out.Set("driverVersion", a.driver_version);
    out.Set("runtimeVersion", a.runtime_version);
    Napi::Array devices = Napi::Array::New(env, a.devices.size());
    for (size_t i = 0; i < a.devices.size(); ++i) {
      const CudaDeviceInfo& d = a.devices[i];
      Napi::Object dev = Napi::Object::New(env);
      dev.Set("index", static_cast<double>(i));
      dev.Set("name", d.name);
      dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
      dev.Set("totalMemory", static_cast<double>(d.total_memory));
      dev.Set("freeMemory", static_cast<double>(d.free_memory));
      dev.Set("multiprocessors", d.multiprocessors);
      dev.Set("supported", d.kernels_available);
      devices.Set(i, dev);
    }
    out.Set("devices", devices);
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  const CudaAvailability* availability_ = nullptr;
};

// cuBLASLt is a large library: opened off the JS thread, and only when asked (doctor).
class CublasLtInfoWorker : public Napi::AsyncWorker {
 public:
  explicit CublasLtInfoWorker(Napi::Env env)
      : Napi::AsyncWorker(env, "crossrank.cublasLtInfo"), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { available_ = CudaLibrary::Instance().CublasLtInfo(&detail_); }

  void OnOK() override {
    Napi::Object out = Napi::Object::New(Env());
    out.Set("available", available_);
    out.Set("detail", detail_);
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  bool available_ = false;
  std::string detail_;
};

}  // namespace

Napi::Value CublasLtInfo(const Napi::CallbackInfo& info) {
  auto* worker = new CublasLtInfoWorker(info.Env());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  auto* worker = new CudaInfoWorker(info.Env());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value CpuFeaturesList(const Napi::CallbackInfo& info) {
  std::vector<std::string> features = CpuFeatures();
  Napi::Array out = Napi::Array::New(info.Env(), features.size());
  for (size_t i = 0; i < features.size(); ++i) out.Set(i, features[i]);
  return out;
}

// The figure the CPU reference's load checks against (0: unknown on this system).
Napi::Value AvailableMemory(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(AvailableHostMemory()));
}

}  // namespace crossrank::binding
