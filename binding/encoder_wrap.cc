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

  // Constructed only by loadEncoder, with the loaded model in an External.
  explicit NativeEncoder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEncoder>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) ThrowInvalidArgument(info.Env(), "use loadEncoder() to create a NativeEncoder");
    model_ = *info[0].As<Napi::External<ModelPtr>>().Data();
  }

 private:
  class ForwardWorker : public Napi::AsyncWorker {
   public:
    ForwardWorker(Napi::Env env, ModelPtr model, PackedBatch batch)
        : Napi::AsyncWorker(env, "crossrank.forward"),
          deferred_(Napi::Promise::Deferred::New(env)),
          model_(std::move(model)),
          batch_(std::move(batch)) {}
    Napi::Promise Promise() { return deferred_.Promise(); }
    void Execute() override {
      try {
        status_ = model_->Forward(batch_, &logits_);
      } catch (const std::bad_alloc&) {
        status_ = Status::OutOfMemory("out of host memory in the forward pass");
      }
    }
    void OnOK() override {
      Napi::Env env = Env();
      if (!status_.ok()) return deferred_.Reject(MakeError(env, status_).Value());
      auto out = Napi::Float32Array::New(env, logits_.size());
      std::copy(logits_.begin(), logits_.end(), out.Data());
      deferred_.Resolve(out);
    }
    void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

   private:
    Napi::Promise::Deferred deferred_;
    ModelPtr model_;
    PackedBatch batch_;
    std::vector<float> logits_;
    Status status_;
  };

  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!model_) ThrowInvalidArgument(env, "this encoder has been disposed");
    PackedBatch batch;
    batch.token_ids = Int32Vector(info, 0, "tokenIds");
    batch.type_ids = Int32Vector(info, 1, "typeIds");
    batch.cu_seqlens = Int32Vector(info, 2, "cuSeqlens");
    Status valid = ValidatePackedBatch(batch, model_->config().max_sequence_length());
    if (!valid.ok()) throw MakeError(env, valid);
    auto* worker = new ForwardWorker(env, model_, std::move(batch));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();  // workers in flight keep their own reference
    return info.Env().Undefined();
  }

  ModelPtr model_;
};

class LoadWorker : public LoadProgressWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, EncoderConfig config, int threads, int device, CudaElementType element,
             Napi::FunctionReference on_progress)
      : LoadProgressWorker(env, "crossrank.loadEncoder"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        config_(config),
        threads_(threads),
        device_(device),
        element_(element),
        on_progress_(std::move(on_progress)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute(const ExecutionProgress& progress) override {
    try {
      std::unique_ptr<EncoderModel> model;
      status_ = EncoderModel::Load(path_, config_, threads_, device_, element_, &model,
                                   SendProgress(progress, on_progress_));
      model_ = std::move(model);
    } catch (const std::bad_alloc&) {
      status_ = Status::OutOfMemory("out of host memory loading " + path_);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) return deferred_.Reject(MakeError(env, status_).Value());
    ModelPtr model = model_;
    auto external = Napi::External<ModelPtr>::New(env, new ModelPtr(model), [](Napi::Env, ModelPtr* p) { delete p; });
    deferred_.Resolve(EncoderConstructor(env)->New({external}));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }
  void OnProgress(const LayerCount* counts, size_t n) override { ReportProgress(on_progress_, counts, n); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  EncoderConfig config_;
  int threads_;
  int device_;
  CudaElementType element_;
  Napi::FunctionReference on_progress_;
  ModelPtr model_;
  Status status_;
};

int32_t Field(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) ThrowInvalidArgument(o.Env(), std::string("encoder config.") + name + " must be a number");
  return v.As<Napi::Number>().Int32Value();
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
  Napi::Object o = info[1].As<Napi::Object>();
  EncoderConfig c;
  c.arch = static_cast<EncoderArch>(Field(o, "arch"));
  if (c.arch != EncoderArch::kBert && c.arch != EncoderArch::kRoberta) ThrowInvalidArgument(env, "unknown encoder arch");
  c.vocab_size = Field(o, "vocabSize");
  c.hidden_size = Field(o, "hiddenSize");
  c.num_layers = Field(o, "numLayers");
  c.num_heads = Field(o, "numHeads");
  c.intermediate_size = Field(o, "intermediateSize");
  c.max_positions = Field(o, "maxPositions");
  c.type_vocab_size = Field(o, "typeVocabSize");
  c.num_labels = Field(o, "numLabels");
  c.pad_token_id = Field(o, "padTokenId");
  Napi::Value bare = o.Get("bare");
  c.bare = bare.IsBoolean() && bare.As<Napi::Boolean>().Value();
  Napi::Value eps = o.Get("layerNormEps");
  if (!eps.IsNumber()) ThrowInvalidArgument(env, "encoder config.layerNormEps must be a number");
  c.layer_norm_eps = eps.As<Napi::Number>().FloatValue();
  Status valid = c.Validate();
  if (!valid.ok()) throw MakeError(env, valid);
  auto* worker = new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), c, info[2].As<Napi::Number>().Int32Value(),
                                info[3].As<Napi::Number>().Int32Value(), element, std::move(on_progress));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Function DefineNativeEncoder(Napi::Env env) { return NativeEncoder::Define(env); }

}  // namespace crossrank::binding
