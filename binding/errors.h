// Typed errors across the boundary. At init the JS side hands us a factory
// (code, message) => CrossrankError subclass; every native failure goes through it, so
// JS always receives the right class with a stable `code`.
#pragma once

#include <napi.h>

#include "crossrank/status.h"

namespace crossrank::binding {

// Per-environment state of the addon (worker threads each get their own).
struct AddonData {
  Napi::FunctionReference make_error;
  Napi::FunctionReference encoder_constructor;
  Napi::FunctionReference decoder_constructor;
};

// The JS error for a failed status (never call with an ok status).
Napi::Error MakeError(Napi::Env env, const Status& status);

// Throws InvalidArgument as a typed JS error (for argument checks in the glue).
[[noreturn]] void ThrowInvalidArgument(Napi::Env env, const std::string& message);

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info);

}  // namespace crossrank::binding
