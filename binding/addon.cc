// The N-API addon: exports only. The JS side describes this surface once, as the
// NativeBinding type in src/native/binding.ts.
#include <napi.h>

#include "errors.h"
#include "exports.h"

#ifndef CROSSRANK_VERSION
#define CROSSRANK_VERSION "0.0.0"
#endif

namespace crossrank::binding {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("abiVersion", Napi::Number::New(env, 8));  // keep in step with NATIVE_ABI_VERSION (src/native/binding.ts)
  exports.Set("version", Napi::String::New(env, CROSSRANK_VERSION));
#ifdef CROSSRANK_BUILT_WITH_CUDA
  exports.Set("builtWithCuda", Napi::Boolean::New(env, true));
#else
  exports.Set("builtWithCuda", Napi::Boolean::New(env, false));
#endif
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeaturesList, "cpuFeatures"));
  exports.Set("availableMemory", Napi::Function::New(env, AvailableMemory, "availableMemory"));
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo, "cudaInfo"));
  exports.Set("cublasLtInfo", Napi::Function::New(env, CublasLtInfo, "cublasLtInfo"));
  exports.Set("scoreHead", Napi::Function::New(env, ScoreHead, "scoreHead"));
  exports.Set("NativeTokenizer", DefineNativeTokenizer(env));
  exports.Set("encodePairs", Napi::Function::New(env, EncodePairs, "encodePairs"));
  exports.Set("padBatch", Napi::Function::New(env, PadBatch, "padBatch"));
  exports.Set("NativeEncoder", DefineNativeEncoder(env));
  exports.Set("loadEncoder", Napi::Function::New(env, LoadEncoder, "loadEncoder"));
  exports.Set("NativeDecoder", DefineNativeDecoder(env));
  exports.Set("loadDecoder", Napi::Function::New(env, LoadDecoder, "loadDecoder"));
  return exports;
}

}  // namespace crossrank::binding

static Napi::Object InitCrossrank(Napi::Env env, Napi::Object exports) {
  return crossrank::binding::Init(env, exports);
}

NODE_API_MODULE(crossrank, InitCrossrank)
