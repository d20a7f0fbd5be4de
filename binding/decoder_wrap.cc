// NativeDecoder: the native engine's decoder reranker (Qwen3) for JS.
//   loadDecoder(path, config, answerIds: Int32Array, threads, device, element, onProgress?) -> Promise<NativeDecoder>
//     device -1: the CPU reference; device >= 0: the CUDA backend on that GPU, its matrices and
//     activations in element 'bf16' or 'fp16' (ignored on the CPU, which computes in fp32);
//     onProgress(layersDone, layers) after each layer is read and converted
//   decoder.score(prefixIds, prefixCu, tokenIds, cuSeqlens, prefixOf) -> Promise<Float32Array>
//     [sequences x answers]: each prefix run once, its key/value cache reused by the
//     sequences that continue it (prefixOf[s] >= 0), the others run whole (-1)
//   decoder.dispose()  frees the weights once calls in flight have finished
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crossrank/decoder.h"
#include "args.h"
#include "errors.h"
#include "exports.h"

namespace crossrank::binding {
namespace {

using DecoderPtr = std::shared_ptr<DecoderModel>;

// Runs `job` off the JS thread and settles a promise with its floats (or its typed error).
class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, std::function<Status(std::vector<float>*)> job)
      : Napi::AsyncWorker(env, "crossrank.decoder"), deferred_(Napi::Promise::Deferred::New(env)), job_(std::move(job)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      status_ = job_(&out_);
    } catch (const std::bad_alloc&) {
      status_ = Status::OutOfMemory("out of host memory in the decoder");
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) return deferred_.Reject(MakeError(env, status_).Value());
    auto out = Napi::Float32Array::New(env, out_.size());
    std::copy(out_.begin(), out_.end(), out.Data());
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<Status(std::vector<float>*)> job_;
  std::vector<float> out_;
  Status status_;
};

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

  explicit NativeDecoder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeDecoder>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) ThrowInvalidArgument(info.Env(), "use loadDecoder() to create a NativeDecoder");
    model_ = *info[0].As<Napi::External<DecoderPtr>>().Data();
  }

 private:
  Napi::Value Queue(Napi::Env env, std::function<Status(std::vector<float>*)> job) {
    auto* worker = new JobWorker(env, std::move(job));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Score(const Napi::CallbackInfo& info) {
    if (!model_) ThrowInvalidArgument(info.Env(), "this decoder has been disposed");
    DecoderBatch batch = Batch(info);
    Status valid = ValidateDecoderBatch(batch, model_->config());  // bad input rejects synchronously
    if (!valid.ok()) throw MakeError(info.Env(), valid);
    DecoderPtr m = model_;
    return Queue(info.Env(), [m, batch = std::move(batch)](std::vector<float>* out) { return m->Score(batch, out); });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();  // calls in flight keep their own reference
    return info.Env().Undefined();
  }

  DecoderPtr model_;
};

class LoadWorker : public LoadProgressWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, DecoderConfig config, std::vector<int32_t> answers, int threads, int device,
             CudaElementType element, Napi::FunctionReference on_progress)
      : LoadProgressWorker(env, "crossrank.loadDecoder"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        config_(config),
        answers_(std::move(answers)),
        threads_(threads),
        device_(device),
        element_(element),
        on_progress_(std::move(on_progress)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute(const ExecutionProgress& progress) override {
    try {
      std::unique_ptr<DecoderModel> model;
      status_ = DecoderModel::Load(path_, config_, answers_, threads_, device_, element_, &model,
                                   SendProgress(progress, on_progress_));
      if (status_.ok()) model_ = std::move(model);
    } catch (const std::bad_alloc&) {
      status_ = Status::OutOfMemory("out of host memory loading " + path_);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) return deferred_.Reject(MakeError(env, status_).Value());
    auto external = Napi::External<DecoderPtr>::New(env, new DecoderPtr(model_), [](Napi::Env, DecoderPtr* p) { delete p; });
    deferred_.Resolve(DecoderConstructor(env)->New({external}));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }
  void OnProgress(const LayerCount* counts, size_t n) override { ReportProgress(on_progress_, counts, n); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  DecoderConfig config_;
  std::vector<int32_t> answers_;
  int threads_, device_;
  CudaElementType element_;
  Napi::FunctionReference on_progress_;
  DecoderPtr model_;
  Status status_;
};

double Number(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) ThrowInvalidArgument(o.Env(), std::string("decoder config.") + name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
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
  Napi::Object o = info[1].As<Napi::Object>();
  DecoderConfig c;
  c.vocab_size = static_cast<int32_t>(Number(o, "vocabSize"));
  c.hidden_size = static_cast<int32_t>(Number(o, "hiddenSize"));
  c.intermediate_size = static_cast<int32_t>(Number(o, "intermediateSize"));
  c.num_layers = static_cast<int32_t>(Number(o, "numLayers"));
  c.num_heads = static_cast<int32_t>(Number(o, "numHeads"));
  c.num_kv_heads = static_cast<int32_t>(Number(o, "numKvHeads"));
  c.head_dim = static_cast<int32_t>(Number(o, "headDim"));
  c.max_positions = static_cast<int32_t>(Number(o, "maxPositions"));
  c.rms_norm_eps = static_cast<float>(Number(o, "rmsNormEps"));
  c.rope_theta = Number(o, "ropeTheta");
  Napi::Value tie = o.Get("tieWordEmbeddings");
  c.tie_word_embeddings = tie.IsBoolean() && tie.As<Napi::Boolean>().Value();
  Status valid = c.Validate();
  if (!valid.ok()) throw MakeError(env, valid);
  auto* worker = new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), c, Int32Vector(info, 2, "answerIds"),
                                info[3].As<Napi::Number>().Int32Value(), info[4].As<Napi::Number>().Int32Value(),
                                element, std::move(on_progress));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Function DefineNativeDecoder(Napi::Env env) { return NativeDecoder::Define(env); }

}  // namespace crossrank::binding
