// The two asynchronous shapes of the binding's calls: a job that yields floats (a forward
// pass, a decoder's scores, the score head) and a model load with progress. Both run off the
// JS thread and settle a promise; a failed status rejects with its typed error, and running
// out of host memory is an OutOfMemory error, never an exception escaping into Node.
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "crossrank/status.h"
#include "errors.h"

namespace crossrank::binding {

using FloatsJob = std::function<Status(std::vector<float>*)>;

class FloatsWorker : public Napi::AsyncWorker {
 public:
  // `name` names the async resource (diagnostics); `what` completes "out of host memory in …".
  FloatsWorker(Napi::Env env, const char* name, const char* what, FloatsJob job)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), what_(what), job_(std::move(job)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      status_ = job_(&out_);
    } catch (const std::bad_alloc&) {
      status_ = Status::OutOfMemory(std::string("out of host memory in ") + what_);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) return deferred_.Reject(MakeError(env, status_).Value());
    auto out = Napi::Float32Array::New(env, out_.size());
    std::copy(out_.begin(), out_.end(), out.Data());
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  const char* what_;
  FloatsJob job_;
  std::vector<float> out_;
  Status status_;
};

// Queues `job` and returns the promise of its Float32Array.
inline Napi::Value QueueFloatsJob(Napi::Env env, const char* name, const char* what, FloatsJob job) {
  auto* worker = new FloatsWorker(env, name, what, std::move(job));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// Loads a model off the JS thread, reporting each layer to onProgress, and resolves with an
// instance of the JS class `constructor` holding the model (as an External of its shared_ptr,
// so calls in flight keep the model alive after dispose()).
template <typename Model>
class LoadModelWorker : public LoadProgressWorker {
 public:
  using Load = std::function<Status(std::unique_ptr<Model>*, const LoadProgress&)>;
  LoadModelWorker(Napi::Env env, const char* name, std::string path, Load load, Napi::FunctionReference* constructor,
                  Napi::FunctionReference on_progress)
      : LoadProgressWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        load_(std::move(load)),
        constructor_(constructor),
        on_progress_(std::move(on_progress)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute(const ExecutionProgress& progress) override {
    try {
      std::unique_ptr<Model> model;
      status_ = load_(&model, SendProgress(progress, on_progress_));
      if (status_.ok()) model_ = std::move(model);
    } catch (const std::bad_alloc&) {
      status_ = Status::OutOfMemory("out of host memory loading " + path_);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) return deferred_.Reject(MakeError(env, status_).Value());
    using Ptr = std::shared_ptr<Model>;
    auto external = Napi::External<Ptr>::New(env, new Ptr(model_), [](Napi::Env, Ptr* p) { delete p; });
    deferred_.Resolve(constructor_->New({external}));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }
  void OnProgress(const LayerCount* counts, size_t n) override { ReportProgress(on_progress_, counts, n); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  Load load_;
  Napi::FunctionReference* constructor_;
  Napi::FunctionReference on_progress_;
  std::shared_ptr<Model> model_;
  Status status_;
};

// Queues the load and returns the promise of the JS model object.
template <typename Model>
Napi::Value QueueModelLoad(Napi::Env env, const char* name, std::string path, typename LoadModelWorker<Model>::Load load,
                           Napi::FunctionReference* constructor, Napi::FunctionReference on_progress) {
  auto* worker = new LoadModelWorker<Model>(env, name, std::move(path), std::move(load), constructor, std::move(on_progress));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// The model a JS model object was constructed with (only the load workers construct them).
template <typename Model>
std::shared_ptr<Model> ModelFromExternal(const Napi::CallbackInfo& info, const char* hint) {
  if (info.Length() < 1 || !info[0].IsExternal()) ThrowInvalidArgument(info.Env(), hint);
  return *info[0].As<Napi::External<std::shared_ptr<Model>>>().Data();
}

// config[name] as a number, or an InvalidArgument naming it (`what`: "encoder config").
inline double ConfigNumber(const Napi::Object& config, const char* what, const char* name) {
  Napi::Value v = config.Get(name);
  if (!v.IsNumber()) ThrowInvalidArgument(config.Env(), std::string(what) + "." + name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// config[name] as an int32: a whole number in range, or an InvalidArgument naming it (a cast of
// an out-of-range double would be undefined behaviour, not an error).
inline int32_t ConfigInt(const Napi::Object& config, const char* what, const char* name) {
  const double v = ConfigNumber(config, what, name);
  if (!(v >= INT32_MIN && v <= INT32_MAX) || v != static_cast<double>(static_cast<int64_t>(v))) {
    ThrowInvalidArgument(config.Env(), std::string(what) + "." + name + " must be a 32-bit integer");
  }
  return static_cast<int32_t>(v);
}

inline bool ConfigFlag(const Napi::Object& config, const char* name) {
  Napi::Value v = config.Get(name);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

}  // namespace crossrank::binding
