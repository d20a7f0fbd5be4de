// NativeTokenizer (WordPiece) and the pair/batch builders. Arguments are validated in
// TypeScript (src/tokenizer/); the checks here only keep bad calls from crashing.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "crossrank/thread_pool.h"
#include "crossrank/tokenizer.h"
#include "errors.h"
#include "exports.h"

namespace crossrank::binding {
namespace {

bool BoolField(const Napi::Object& o, const char* name, bool fallback) {
  Napi::Value v = o.Get(name);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}

std::string StringField(const Napi::Object& o, const char* name, const std::string& fallback) {
  Napi::Value v = o.Get(name);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : fallback;
}

int32_t IntField(const Napi::Object& o, const char* name, int32_t fallback) {
  Napi::Value v = o.Get(name);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : fallback;
}

Napi::Int32Array Int32Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowInvalidArgument(info.Env(), std::string(name) + " must be an Int32Array");
  }
  return info[i].As<Napi::Int32Array>();
}

Napi::Int32Array ToInt32Array(Napi::Env env, const std::vector<int32_t>& v) {
  auto out = Napi::Int32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), out.Data());
  return out;
}

// Token lists: ids of all texts concatenated, offsets[i]..offsets[i+1] is text i.
struct TokenLists {
  std::vector<int32_t> ids;
  std::vector<int32_t> offsets{0};
};

Napi::Object ToJs(Napi::Env env, const TokenLists& lists) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("ids", ToInt32Array(env, lists.ids));
  out.Set("offsets", ToInt32Array(env, lists.offsets));
  return out;
}

// Checks that offsets describe `ids` (monotonic, in range) so later reads stay inside.
void CheckLists(Napi::Env env, const Napi::Int32Array& ids, const Napi::Int32Array& offsets, const char* name) {
  const size_t n = offsets.ElementLength();
  if (n < 1 || offsets[0] != 0 || static_cast<size_t>(offsets[n - 1]) != ids.ElementLength()) {
    ThrowInvalidArgument(env, std::string(name) + ": offsets must start at 0 and end at ids.length");
  }
  for (size_t i = 1; i < n; ++i) {
    if (offsets[i] < offsets[i - 1]) ThrowInvalidArgument(env, std::string(name) + ": offsets must not decrease");
  }
}

// Each text's ids appended to `lists`, one after another on the calling thread.
void EncodeInOrder(const WordPieceTokenizer& tokenizer, const std::vector<std::string>& texts, TokenLists* lists) {
  for (const std::string& t : texts) {
    tokenizer.Encode(t, &lists->ids);
    lists->offsets.push_back(static_cast<int32_t>(lists->ids.size()));
  }
}

// The threads a tokenizer's asynchronous calls split their texts over: its own, because
// libuv's pool (4 threads by default) is shared with the forward passes and every other
// native call, and a request's 100 passages should use the machine's cores. One call uses
// them at a time; a second waits (each would use all of them anyway).
struct EncodeThreads {
  explicit EncodeThreads(int threads) : pool(threads) {}
  ThreadPool pool;
  std::mutex busy;
};

class EncodeWorker : public Napi::AsyncWorker {
 public:
  EncodeWorker(Napi::Env env, std::shared_ptr<const WordPieceTokenizer> tokenizer, std::shared_ptr<EncodeThreads> threads,
               std::vector<std::string> texts)
      : Napi::AsyncWorker(env, "crossrank.tokenize"),
        deferred_(Napi::Promise::Deferred::New(env)),
        tokenizer_(std::move(tokenizer)),
        threads_(std::move(threads)),
        texts_(std::move(texts)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    // Below this many texts per thread, handing them out costs more than it saves.
    constexpr size_t kMinTextsPerThread = 8;
    try {
      if (!threads_ || texts_.size() < 2 * kMinTextsPerThread) return EncodeInOrder(*tokenizer_, texts_, &lists_);
      std::vector<std::vector<int32_t>> each(texts_.size());
      std::atomic<bool> out_of_memory{false};
      {
        std::lock_guard<std::mutex> lock(threads_->busy);
        threads_->pool.ParallelFor(texts_.size(), kMinTextsPerThread, [&](size_t begin, size_t end) {
          try {
            for (size_t i = begin; i < end; ++i) tokenizer_->Encode(texts_[i], &each[i]);
          } catch (const std::bad_alloc&) {  // never across a pool thread's boundary
            out_of_memory = true;
          }
        });
      }
      if (out_of_memory) throw std::bad_alloc();
      size_t total = 0;
      for (const auto& ids : each) total += ids.size();
      lists_.ids.reserve(total);
      lists_.offsets.reserve(texts_.size() + 1);
      for (const auto& ids : each) {
        lists_.ids.insert(lists_.ids.end(), ids.begin(), ids.end());
        lists_.offsets.push_back(static_cast<int32_t>(lists_.ids.size()));
      }
    } catch (const std::bad_alloc&) {
      status_ = Status::OutOfMemory("out of host memory tokenizing " + std::to_string(texts_.size()) + " texts");
    }
  }
  void OnOK() override {
    if (!status_.ok()) return deferred_.Reject(MakeError(Env(), status_).Value());
    deferred_.Resolve(ToJs(Env(), lists_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<const WordPieceTokenizer> tokenizer_;
  std::shared_ptr<EncodeThreads> threads_;  // null: one thread
  std::vector<std::string> texts_;
  TokenLists lists_;
  Status status_;
};

class NativeTokenizer : public Napi::ObjectWrap<NativeTokenizer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeTokenizer",
                       {InstanceMethod("encode", &NativeTokenizer::EncodeAsync),
                        InstanceMethod("encodeSync", &NativeTokenizer::EncodeSync)});
  }

  // new NativeTokenizer(vocab: string[], config, threads = 1): `threads` for encode() (async).
  explicit NativeTokenizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTokenizer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject()) {
      ThrowInvalidArgument(env, "NativeTokenizer(vocab: string[], config: object, threads?: number)");
    }
    int threads = 1;
    if (info.Length() > 2 && !info[2].IsUndefined()) {
      if (!info[2].IsNumber()) ThrowInvalidArgument(env, "threads must be a number");
      const double t = info[2].As<Napi::Number>().DoubleValue();
      if (!(t >= 1 && t <= 256) || t != static_cast<int>(t)) ThrowInvalidArgument(env, "threads must be an integer from 1 to 256");
      threads = static_cast<int>(t);
    }
    Napi::Array list = info[0].As<Napi::Array>();
    std::vector<std::string> vocab(list.Length());
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      if (v.IsString()) vocab[i] = v.As<Napi::String>().Utf8Value();
    }
    Napi::Object c = info[1].As<Napi::Object>();
    WordPieceConfig config;
    config.normalizer.clean_text = BoolField(c, "cleanText", true);
    config.normalizer.handle_chinese_chars = BoolField(c, "handleChineseChars", true);
    config.normalizer.lowercase = BoolField(c, "lowercase", true);
    config.normalizer.strip_accents = BoolField(c, "stripAccents", config.normalizer.lowercase);
    config.unk_token = StringField(c, "unkToken", "[UNK]");
    config.continuing_subword_prefix = StringField(c, "continuingSubwordPrefix", "##");
    config.max_input_chars_per_word = IntField(c, "maxInputCharsPerWord", 100);
    Napi::Value added = c.Get("addedTokens");
    if (added.IsArray()) {
      Napi::Array a = added.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        if (!a.Get(i).IsObject()) continue;
        Napi::Object t = a.Get(i).As<Napi::Object>();
        config.added_tokens.push_back({StringField(t, "content", ""), IntField(t, "id", -1), BoolField(t, "lstrip", false),
                                       BoolField(t, "rstrip", false), BoolField(t, "singleWord", false)});
      }
    }
    std::unique_ptr<WordPieceTokenizer> tokenizer;
    Status status = WordPieceTokenizer::Create(std::move(vocab), std::move(config), &tokenizer);
    if (!status.ok()) throw MakeError(env, status);
    tokenizer_ = std::shared_ptr<const WordPieceTokenizer>(std::move(tokenizer));
    if (threads > 1) threads_ = std::make_shared<EncodeThreads>(threads);
  }

 private:
  static std::vector<std::string> Texts(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsArray()) ThrowInvalidArgument(info.Env(), "texts must be an array of strings");
    Napi::Array list = info[0].As<Napi::Array>();
    std::vector<std::string> texts(list.Length());
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      if (!v.IsString()) ThrowInvalidArgument(info.Env(), "texts[" + std::to_string(i) + "] is not a string");
      texts[i] = v.As<Napi::String>().Utf8Value();  // lone surrogates arrive as U+FFFD
    }
    return texts;
  }

  // encode(texts: string[]) -> Promise<{ids, offsets}>, off the JS thread (over the tokenizer's threads).
  Napi::Value EncodeAsync(const Napi::CallbackInfo& info) {
    auto* worker = new EncodeWorker(info.Env(), tokenizer_, threads_, Texts(info));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  // encodeSync(texts: string[]) -> {ids, offsets}: for short inputs (one query).
  Napi::Value EncodeSync(const Napi::CallbackInfo& info) {
    TokenLists lists;
    EncodeInOrder(*tokenizer_, Texts(info), &lists);
    return ToJs(info.Env(), lists);
  }

  std::shared_ptr<const WordPieceTokenizer> tokenizer_;
  std::shared_ptr<EncodeThreads> threads_;  // null: encode() runs on one thread
};

PairTemplate TemplateArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsObject()) ThrowInvalidArgument(info.Env(), "template must be an object");
  Napi::Object o = info[i].As<Napi::Object>();
  PairTemplate t;
  t.cls_id = IntField(o, "clsId", 101);
  t.sep_id = IntField(o, "sepId", 102);
  t.max_length = IntField(o, "maxLength", 512);
  t.truncation = static_cast<Truncation>(IntField(o, "truncation", 0));
  if (t.max_length < 4) ThrowInvalidArgument(info.Env(), "maxLength must be at least 4");
  if (t.truncation != Truncation::kLongestFirst && t.truncation != Truncation::kOnlySecond) {
    ThrowInvalidArgument(info.Env(), "unknown truncation");
  }
  return t;
}

}  // namespace

// encodePairs(qIds, qOffsets, dIds, dOffsets, pairQuery, pairDoc, template)
//   -> {ids, typeIds, offsets, truncated: Uint8Array}
Napi::Value EncodePairs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto q_ids = Int32Arg(info, 0, "queryIds");
  auto q_off = Int32Arg(info, 1, "queryOffsets");
  auto d_ids = Int32Arg(info, 2, "docIds");
  auto d_off = Int32Arg(info, 3, "docOffsets");
  auto pair_q = Int32Arg(info, 4, "pairQuery");
  auto pair_d = Int32Arg(info, 5, "pairDoc");
  PairTemplate t = TemplateArg(info, 6);
  CheckLists(env, q_ids, q_off, "queries");
  CheckLists(env, d_ids, d_off, "documents");
  if (pair_q.ElementLength() != pair_d.ElementLength()) ThrowInvalidArgument(env, "pairQuery and pairDoc differ in length");
  const int32_t nq = static_cast<int32_t>(q_off.ElementLength()) - 1;
  const int32_t nd = static_cast<int32_t>(d_off.ElementLength()) - 1;
  std::vector<int32_t> ids, type_ids, offsets{0};
  auto truncated = Napi::Uint8Array::New(env, pair_q.ElementLength());
  for (size_t p = 0; p < pair_q.ElementLength(); ++p) {
    const int32_t qi = pair_q[p], di = pair_d[p];
    if (qi < 0 || qi >= nq || di < 0 || di >= nd) ThrowInvalidArgument(env, "pair index out of range");
    truncated[p] = EncodePair(q_ids.Data() + q_off[qi], q_off[qi + 1] - q_off[qi], d_ids.Data() + d_off[di],
                              d_off[di + 1] - d_off[di], t, &ids, &type_ids);
    offsets.push_back(static_cast<int32_t>(ids.size()));
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("ids", ToInt32Array(env, ids));
  out.Set("typeIds", ToInt32Array(env, type_ids));
  out.Set("offsets", ToInt32Array(env, offsets));
  out.Set("truncated", truncated);
  return out;
}

// padBatch(ids, typeIds, offsets, rows: Int32Array, padId)
//   -> {inputIds, attentionMask, tokenTypeIds: BigInt64Array (rows x seqLen), seqLen}
// Pads only to the longest selected row: the ONNX Runtime inputs, built without JS objects.
Napi::Value PadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto ids = Int32Arg(info, 0, "ids");
  auto type_ids = Int32Arg(info, 1, "typeIds");
  auto offsets = Int32Arg(info, 2, "offsets");
  auto rows = Int32Arg(info, 3, "rows");
  if (info.Length() < 5 || !info[4].IsNumber()) ThrowInvalidArgument(env, "padId must be a number");
  const int64_t pad = info[4].As<Napi::Number>().Int64Value();
  CheckLists(env, ids, offsets, "pairs");
  if (type_ids.ElementLength() != ids.ElementLength()) ThrowInvalidArgument(env, "typeIds and ids differ in length");
  const int32_t n = static_cast<int32_t>(offsets.ElementLength()) - 1;
  size_t seq = 0;
  for (size_t r = 0; r < rows.ElementLength(); ++r) {
    if (rows[r] < 0 || rows[r] >= n) ThrowInvalidArgument(env, "row index out of range");
    seq = std::max(seq, static_cast<size_t>(offsets[rows[r] + 1] - offsets[rows[r]]));
  }
  const size_t total = rows.ElementLength() * seq;
  auto input_ids = Napi::BigInt64Array::New(env, total);
  auto mask = Napi::BigInt64Array::New(env, total);
  auto types = Napi::BigInt64Array::New(env, total);
  for (size_t r = 0; r < rows.ElementLength(); ++r) {
    const int32_t begin = offsets[rows[r]], len = offsets[rows[r] + 1] - begin;
    int64_t* out_ids = input_ids.Data() + r * seq;
    int64_t* out_mask = mask.Data() + r * seq;
    int64_t* out_types = types.Data() + r * seq;
    for (int32_t k = 0; k < len; ++k) {
      out_ids[k] = ids[begin + k];
      out_mask[k] = 1;
      out_types[k] = type_ids[begin + k];
    }
    for (size_t k = len; k < seq; ++k) out_ids[k] = pad, out_mask[k] = 0, out_types[k] = 0;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("inputIds", input_ids);
  out.Set("attentionMask", mask);
  out.Set("tokenTypeIds", types);
  out.Set("seqLen", static_cast<double>(seq));
  return out;
}

Napi::Function DefineNativeTokenizer(Napi::Env env) { return NativeTokenizer::Define(env); }

}  // namespace crossrank::binding
