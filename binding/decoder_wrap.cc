// NativeDecoder: the native engine's decoder reranker (Qwen3) for JS.
//   loadDecoder(path, config, answerIds: Int32Array, threads, device, element, onProgress?) -> Promise<NativeDecoder>
//     device -1: the CPU reference; device >= 0: the CUDA backend on that GPU, its matrices and
//     activations in element 'bf16' or 'fp16' (ignored on the CPU, which computes in fp32);
//     onProgress(layersDone, layers) after each layer is read and converted
//   decoder.score(prefixIds, prefixCu, tokenIds, cuSeqlens, prefixOf) -> Promise<Float32Array>
//     [sequences x answers]: each prefix run once, its key/value cache reused by the
//     sequences that continue it (prefixOf[s] >= 0), the others run whole (-1)
//   decoder.dispose()  frees the weights once calls in flight have finished
#include <memory>
#include <string>
#include <vector>

#include "crossrank/decoder.h"
#include "args.h"
#include "errors.h"
#include "exports.h"
#include "workers.h"

namespace crossrank::binding {
namespace {

using DecoderPtr = std::shared_ptr<DecoderModel>;

DecoderBatch Batch(const Napi::CallbackInfo& info) {
  DecoderBatch b;
  b.prefix_ids = Int32Vector(info, 0, "prefixIds");
  b.prefix_cu = Int32Vector(info, 1, "prefixCu");
  b.sequences.token_ids = Int32Vector(info, 2, "tokenIds");
  b.sequences.cu_seqlens = Int32Vector(info, 3, "cuSeqlens");
  b.sequences.type_ids.assign(b.sequences.token_ids.size(), 0);
  b.prefix_of = Int32Vector(info, 4, "prefixOf");
  return b;
}

Napi::FunctionReference* DecoderConstructor(Napi::Env env) { return &env.GetInstanceData<AddonData>()->decoder_constructor; }

class NativeDecoder : public Napi::ObjectWrap<NativeDecoder> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, "NativeDecoder",
                                      {InstanceMethod("score", &NativeDecoder::Score),
                                       InstanceMethod("dispose", &NativeDecoder::Dispose)});
    *DecoderConstructor(env) = Napi::Persistent(ctor);
    return ctor;
  }

  explicit NativeDecoder(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<NativeDecoder>(info),
        model_(ModelFromExternal<DecoderModel>(info, "use loadDecoder() to create a NativeDecoder")) {}

 private:
  Napi::Value Score(const Napi::CallbackInfo& info) {
    if (!model_) ThrowInvalidArgument(info.Env(), "this decoder has been disposed");
    DecoderBatch batch = Batch(info);
    Status valid = ValidateDecoderBatch(batch, model_->config());  // bad input rejects synchronously
    if (!valid.ok()) throw MakeError(info.Env(), valid);
    DecoderPtr m = model_;
    return QueueFloatsJob(info.Env(), "crossrank.decoder", "the decoder",
                          [m, batch = std::move(batch)](std::vector<float>* out) { return m->Score(batch, out); });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();  // calls in flight keep their own reference
    return info.Env().Undefined();
  }

  DecoderPtr model_;
};

DecoderConfig ConfigArg(const Napi::Object& o) {
  const char* what = "decoder config";
  DecoderConfig c;
  c.vocab_size = ConfigInt(o, what, "vocabSize");
  c.hidden_size = ConfigInt(o, what, "hiddenSize");
  c.intermediate_size = ConfigInt(o, what, "intermediateSize");
  c.num_layers = ConfigInt(o, what, "numLayers");
  c.num_heads = ConfigInt(o, what, "numHeads");
  c.num_kv_heads = ConfigInt(o, what, "numKvHeads");
  c.head_dim = ConfigInt(o, what, "headDim");
  c.max_positions = ConfigInt(o, what, "maxPositions");
  c.rms_norm_eps = static_cast<float>(ConfigNumber(o, what, "rmsNormEps"));
  c.rope_theta = ConfigNumber(o, what, "ropeTheta");
  c.tie_word_embeddings = ConfigFlag(o, "tieWordEmbeddings");
  Status valid = c.Validate();
  if (!valid.ok()) throw MakeError(o.Env(), valid);
  return c;
}

}  // namespace

Napi::Value LoadDecoder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsString() || !info[1].IsObject() || !info[3].IsNumber() || !info[4].IsNumber() ||
      !info[5].IsString()) {
    ThrowInvalidArgument(env, "loadDecoder(path: string, config: object, answerIds: Int32Array, threads: number, device: number, element: 'bf16' | 'fp16', onProgress?: function)");
  }
  const CudaElementType element = ElementArg(info, 5);
  Napi::FunctionReference on_progress = ProgressCallbackArg(info, 6);
  const DecoderConfig config = ConfigArg(info[1].As<Napi::Object>());
  const std::vector<int32_t> answers = Int32Vector(info, 2, "answerIds");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const int threads = info[3].As<Napi::Number>().Int32Value(), device = info[4].As<Napi::Number>().Int32Value();
  return QueueModelLoad<DecoderModel>(
      env, "crossrank.loadDecoder", path,
      [=](std::unique_ptr<DecoderModel>* model, const LoadProgress& progress) {
        return DecoderModel::Load(path, config, answers, threads, device, element, model, progress);
      },
      DecoderConstructor(env), std::move(on_progress));
}

Napi::Function DefineNativeDecoder(Napi::Env env) { return NativeDecoder::Define(env); }

}  // namespace crossrank::binding
