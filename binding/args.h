// Argument helpers shared by the binding's classes (checks throw typed InvalidArgument errors).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

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

}  // namespace crossrank::binding
