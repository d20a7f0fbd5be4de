// The functions addon.cc exports; one file implements each group.
#pragma once

#include <napi.h>

namespace crossrank::binding {

Napi::Value ScoreHead(const Napi::CallbackInfo& info);   // score_head.cc
Napi::Value CudaInfo(const Napi::CallbackInfo& info);    // system_info.cc
Napi::Value CublasLtInfo(const Napi::CallbackInfo& info);  // system_info.cc
Napi::Value CpuFeaturesList(const Napi::CallbackInfo& info);
Napi::Value AvailableMemory(const Napi::CallbackInfo& info);
Napi::Function DefineNativeTokenizer(Napi::Env env);           // tokenizer_wrap.cc
Napi::Value EncodePairs(const Napi::CallbackInfo& info);
Napi::Value PadBatch(const Napi::CallbackInfo& info);
Napi::Function DefineNativeEncoder(Napi::Env env);             // encoder_wrap.cc
Napi::Value LoadEncoder(const Napi::CallbackInfo& info);
Napi::Function DefineNativeDecoder(Napi::Env env);             // decoder_wrap.cc
Napi::Value LoadDecoder(const Napi::CallbackInfo& info);

}  // namespace crossrank::binding
