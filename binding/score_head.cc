// scoreHead(logits, numLabels, activation, positiveIndex, device) -> Promise<Float32Array>
// device -1 runs the CPU reference, device >= 0 the CUDA kernel. Runs off the JS thread,
// except small inputs on the CPU: a rerank request's few hundred logits take microseconds,
// less than the hop to a pool thread and back (and that pool is busy tokenizing).
#include <vector>

#include "crossrank/cuda_library.h"
#include "crossrank/score_head.h"
#include "errors.h"
#include "exports.h"
#include "workers.h"

namespace crossrank::binding {
namespace {

int32_t Int32Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowInvalidArgument(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

// Up to this many logits the CPU reference runs on the JS thread (a few microseconds).
constexpr size_t kSyncLogits = 16384;

}  // namespace

Napi::Value ScoreHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    ThrowInvalidArgument(env, "logits must be a Float32Array");
  }
  auto logits = info[0].As<Napi::Float32Array>();
  ScoreHeadParams params;
  params.num_labels = Int32Arg(info, 1, "numLabels");
  params.activation = static_cast<Activation>(Int32Arg(info, 2, "activation"));
  params.positive_index = Int32Arg(info, 3, "positiveIndex");
  const int device = Int32Arg(info, 4, "device");
  params.rows = params.num_labels > 0 ? static_cast<int64_t>(logits.ElementLength() / params.num_labels) : 0;

  // Validate on the JS thread so a bad call rejects without touching a worker.
  Status valid = ValidateScoreHead(params, logits.ElementLength(), static_cast<size_t>(params.rows));
  if (!valid.ok()) throw MakeError(env, valid);

  if (device < 0 && logits.ElementLength() <= kSyncLogits) {
    auto scores = Napi::Float32Array::New(env, static_cast<size_t>(params.rows));
    Status done = ScoreHeadReference(params, logits.Data(), scores.Data());
    auto deferred = Napi::Promise::Deferred::New(env);
    if (done.ok()) {
      deferred.Resolve(scores);
    } else {
      deferred.Reject(MakeError(env, done).Value());
    }
    return deferred.Promise();
  }

  std::vector<float> copy(logits.Data(), logits.Data() + logits.ElementLength());
  return QueueFloatsJob(env, "crossrank.scoreHead", "the score head",
                        [params, device, logits = std::move(copy)](std::vector<float>* scores) {
                          scores->resize(static_cast<size_t>(params.rows));
                          return device < 0 ? ScoreHeadReference(params, logits.data(), scores->data())
                                            : CudaLibrary::Instance().ScoreHead(device, params, logits.data(), scores->data());
                        });
}

}  // namespace crossrank::binding
