// Argument helpers shared by the binding's classes (checks throw typed InvalidArgument errors).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crossrank/cuda_element.h"
#include "crossrank/load_progress.h"
#include "errors.h"

namespace crossrank::binding {

// info[i] as a copy of an Int32Array (the engine keeps it beyond the call, off the JS thread).
inline std::vector<int32_t> Int32Vector(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowInvalidArgument(info.Env(), std::string(name) + " must be an Int32Array");
  }
  auto a = info[i].As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

// A model load's progress, sent from the loading thread to the JS thread.
struct LayerCount {
  int32_t done, total;
};

// The load workers' base: progress reports queued from the loading thread to the JS thread.
using LoadProgressWorker = Napi::AsyncProgressQueueWorker<LayerCount>;

// The engine's LoadProgress for a load worker: each report sent to the JS thread; empty (no
// reports) when JS passed no callback.
inline LoadProgress SendProgress(const LoadProgressWorker::ExecutionProgress& progress,
                                 const Napi::FunctionReference& callback) {
  if (callback.IsEmpty()) return LoadProgress();
  return [&progress](int32_t done, int32_t total) {
    const LayerCount count{done, total};
    progress.Send(&count, 1);
  };
}

// info[i]: an optional function(done, total) for load progress (undefined: none).
inline Napi::FunctionReference ProgressCallbackArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return Napi::FunctionReference();
  if (!info[i].IsFunction()) ThrowInvalidArgument(info.Env(), "onProgress must be a function");
  return Napi::Persistent(info[i].As<Napi::Function>());
}

// Calls the JS progress callback; what it throws is dropped (the TypeScript layer wraps the
// user's callback so it never throws: a load is not failed by its progress display).
inline void ReportProgress(Napi::FunctionReference& callback, const LayerCount* counts, size_t n) {
  if (callback.IsEmpty() || n == 0) return;
  Napi::Env env = callback.Env();
  Napi::HandleScope scope(env);
  const LayerCount& last = counts[n - 1];  // a burst of reports: the latest is enough
  try {
    callback.Call({Napi::Number::New(env, last.done), Napi::Number::New(env, last.total)});
  } catch (const Napi::Error&) {
  }
}

// info[i]: 'bf16' or 'fp16', the CUDA engine's 16-bit element type.
inline CudaElementType ElementArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsString()) ThrowInvalidArgument(info.Env(), "element must be 'bf16' or 'fp16'");
  const std::string element = info[i].As<Napi::String>().Utf8Value();
  if (element != "bf16" && element != "fp16") ThrowInvalidArgument(info.Env(), "element must be 'bf16' or 'fp16', got '" + element + "'");
  return element == "fp16" ? CudaElementType::kFp16 : CudaElementType::kBf16;
}

}  // namespace crossrank::binding
