#include "errors.h"

namespace crossrank::binding {

Napi::Error MakeError(Napi::Env env, const Status& status) {
  const char* code = StatusCodeName(status.code());
  auto* data = env.GetInstanceData<AddonData>();
  if (data && !data->make_error.IsEmpty()) {
    Napi::Value made = data->make_error.Call({Napi::String::New(env, code), Napi::String::New(env, status.message())});
    if (made.IsObject()) return Napi::Error(env, made);
  }
  // No factory registered (binding used directly): a plain Error that still has the code.
  Napi::Error error = Napi::Error::New(env, status.message());
  error.Set("code", Napi::String::New(env, code));
  return error;
}

void ThrowInvalidArgument(Napi::Env env, const std::string& message) {
  throw MakeError(env, Status::InvalidArgument(message));
}

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowInvalidArgument(env, "setErrorFactory expects a function");
  auto* data = env.GetInstanceData<AddonData>();
  data->make_error = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

}  // namespace crossrank::binding
