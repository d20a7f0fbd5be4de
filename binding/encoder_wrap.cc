// NativeEncoder: the native engine's encoder model for JS.
//   loadEncoder(path, config, threads, device, element, onProgress?) -> Promise<NativeEncoder>
//     (mmap, validate, convert off-thread; device -1 = CPU reference, >= 0 = that GPU with
//     weights and activations in element 'fp16' or 'bf16', ignored on the CPU;
//     onProgress(layersDone, layers) after each layer is read)
//   encoder.forward(tokenIds, typeIds, cuSeqlens) -> Promise<Float32Array> raw logits (a bare encoder: hidden states)
//   encoder.dispose()  frees the weights once forwards in flight have finished
#include <memory>
#include <string>
#include <vector>

#include "crossrank/encoder.h"
#include "args.h"
#include "errors.h"
#include "exports.h"
#include "workers.h"

namespace crossrank::binding {
namespace {

using ModelPtr = std::shared_ptr<EncoderModel>;

Napi::FunctionReference* EncoderConstructor(Napi::Env env) {
  return &env.GetInstanceData<AddonData>()->encoder_constructor;
}

class NativeEncoder : public Napi::ObjectWrap<NativeEncoder> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, "NativeEncoder",
                                      {InstanceMethod("forward", &NativeEncoder::Forward),
                                       InstanceMethod("dispose", &NativeEncoder::Dispose)});
    *EncoderConstructor(env) = Napi::Persistent(ctor);
    return ctor;
  }

  explicit NativeEncoder(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<NativeEncoder>(info),
        model_(ModelFromExternal<EncoderModel>(info, "use loadEncoder() to create a NativeEncoder")) {}

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!model_) ThrowInvalidArgument(env, "this encoder has been disposed");
    PackedBatch batch;
    batch.token_ids = Int32Vector(info, 0, "tokenIds");
    batch.type_ids = Int32Vector(info, 1, "typeIds");
    batch.cu_seqlens = Int32Vector(info, 2, "cuSeqlens");
    Status valid = ValidatePackedBatch(batch, model_->config().max_sequence_length());  // bad input rejects synchronously
    if (!valid.ok()) throw MakeError(env, valid);
    ModelPtr m = model_;
    return QueueFloatsJob(env, "crossrank.forward", "the forward pass",
                          [m, batch = std::move(batch)](std::vector<float>* out) { return m->Forward(batch, out); });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();  // calls in flight keep their own reference
    return info.Env().Undefined();
  }

  ModelPtr model_;
};

EncoderConfig ConfigArg(const Napi::Object& o) {
  const char* what = "encoder config";
  EncoderConfig c;
  c.arch = static_cast<EncoderArch>(ConfigInt(o, what, "arch"));
  if (c.arch != EncoderArch::kBert && c.arch != EncoderArch::kRoberta) ThrowInvalidArgument(o.Env(), "unknown encoder arch");
  c.vocab_size = ConfigInt(o, what, "vocabSize");
  c.hidden_size = ConfigInt(o, what, "hiddenSize");
  c.num_layers = ConfigInt(o, what, "numLayers");
  c.num_heads = ConfigInt(o, what, "numHeads");
  c.intermediate_size = ConfigInt(o, what, "intermediateSize");
  c.max_positions = ConfigInt(o, what, "maxPositions");
  c.type_vocab_size = ConfigInt(o, what, "typeVocabSize");
  c.num_labels = ConfigInt(o, what, "numLabels");
  c.pad_token_id = ConfigInt(o, what, "padTokenId");
  c.bare = ConfigFlag(o, "bare");
  c.layer_norm_eps = static_cast<float>(ConfigNumber(o, what, "layerNormEps"));
  Status valid = c.Validate();
  if (!valid.ok()) throw MakeError(o.Env(), valid);
  return c;
}

}  // namespace

Napi::Value LoadEncoder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsString() || !info[1].IsObject() || !info[2].IsNumber() || !info[3].IsNumber() ||
      !info[4].IsString()) {
    ThrowInvalidArgument(env, "loadEncoder(path: string, config: object, threads: number, device: number, element: 'fp16' | 'bf16', onProgress?: function)");
  }
  const CudaElementType element = ElementArg(info, 4);
  Napi::FunctionReference on_progress = ProgressCallbackArg(info, 5);
  const EncoderConfig config = ConfigArg(info[1].As<Napi::Object>());
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const int threads = info[2].As<Napi::Number>().Int32Value(), device = info[3].As<Napi::Number>().Int32Value();
  return QueueModelLoad<EncoderModel>(
      env, "crossrank.loadEncoder", path,
      [=](std::unique_ptr<EncoderModel>* model, const LoadProgress& progress) {
        return EncoderModel::Load(path, config, threads, device, element, model, progress);
      },
      EncoderConstructor(env), std::move(on_progress));
}

Napi::Function DefineNativeEncoder(Napi::Env env) { return NativeEncoder::Define(env); }

}  // namespace crossrank::binding
