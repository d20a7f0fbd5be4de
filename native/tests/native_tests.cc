// CPU-only native tests, run by `ctest`-free CI through test/native/native-tests.test.ts.
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_map>
#include <random>
#include <limits>
#include <vector>

#include "check.h"
#include "crossrank/decoder.h"
#include "crossrank/encoder.h"
#include "crossrank/host_memory.h"
#include "crossrank/score_head.h"
#include "crossrank/safetensors.h"
#include "crossrank/status.h"
#include "crossrank/thread_pool.h"
#include "crossrank/tokenizer.h"
#include "crossrank/vocab_table.h"
#include "model/json.h"

using namespace crossrank;

void TestLinearForward();  // linear_tests.cc
void TestVectorExp();      // attention_tests.cc
void TestGelu();
void TestAttendHead();

static void TestScoreHeadSigmoid() {
  ScoreHeadParams p{3, 1, Activation::kSigmoid, 0};
  std::vector<float> logits = {0.f, 2.f, std::numeric_limits<float>::infinity()};
  std::vector<float> out(3);
  CHECK(ValidateScoreHead(p, logits.size(), out.size()).ok());
  CHECK(ScoreHeadReference(p, logits.data(), out.data()).ok());
  CHECK(std::fabs(out[0] - 0.5f) < 1e-7f);
  CHECK(std::fabs(out[1] - 1.f / (1.f + std::exp(-2.f))) < 1e-7f);
  CHECK(out[2] == 1.f);
}

static void TestScoreHeadSoftmax() {
  ScoreHeadParams p{2, 2, Activation::kSoftmax, 1};
  std::vector<float> logits = {1.f, 3.f, -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
  std::vector<float> out(2);
  CHECK(ScoreHeadReference(p, logits.data(), out.data()).ok());
  CHECK(std::fabs(out[0] - 1.f / (1.f + std::exp(-2.f))) < 1e-6f);
  CHECK(std::isfinite(out[1]) && out[1] == 1.f);
}

static void TestScoreHeadErrors() {
  ScoreHeadParams p{2, 1, Activation::kSigmoid, 0};
  CHECK(ValidateScoreHead(p, 3, 2).code() == StatusCode::kInvalidArgument);
  p.positive_index = 1;
  CHECK(ValidateScoreHead(p, 2, 2).code() == StatusCode::kInvalidArgument);
  ScoreHeadParams q{1, 1, Activation::kSigmoid, 0};
  float nan = std::nanf("");
  float out = 0;
  Status s = ScoreHeadReference(q, &nan, &out);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(StatusCodeName(s.code())) == "CROSSRANK_INVALID_ARGUMENT");
}

static void TestJson() {
  json::Value v;
  std::string error;
  const std::string good = R"({"a": [1, -2.5e3, true, null], "b": {"c": "x\u00e9\ud83d\ude00"}})";
  CHECK(json::Parse(good.data(), good.size(), &v, &error));
  CHECK(v.Get("a") && v.Get("a")->array.size() == 4 && v.Get("a")->array[1].number == -2500);
  CHECK(v.Get("b")->Get("c")->string == "x\xc3\xa9\xf0\x9f\x98\x80");
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "1.", "\"\\ud800\"", "{\"a\":1,\"a\":2}", "nul",
                          "\"tab\there\"", "1e999", "[1] x"}) {
    CHECK(!json::Parse(bad, std::strlen(bad), &v, &error));
  }
  std::string deep(100, '[');
  CHECK(!json::Parse(deep.data(), deep.size(), &v, &error));
}

static std::vector<uint8_t> SafetensorsBytes(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

static void TestSafetensorsParse() {
  std::unique_ptr<SafetensorsFile> f;
  auto ok = SafetensorsBytes(R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}})", 8);
  CHECK(SafetensorsFile::Parse(ok.data(), ok.size(), "t", &f).ok());
  CHECK(f && f->Find("w") && f->Find("w")->bytes == 8 && f->Find("w")->shape.size() == 2);
  const char* bad[] = {
      R"({"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,9]}})",   // past the data
      R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})",     // size mismatch
      R"({"w":{"dtype":"Q4","shape":[4],"data_offsets":[0,8]}})",      // dtype
      R"({"w":{"dtype":"F16","shape":[-4],"data_offsets":[0,8]}})",    // shape
      R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"v":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}})",
      R"({"w":{"dtype":"F16","shape":[1e300,1e300],"data_offsets":[0,8]}})",  // overflowing shape
      // a product far past 2^64 from dimensions that are each valid (found by fuzz_safetensors)
      R"({"w":{"dtype":"F16","shape":[2,9999999999998,9,99999998,9,99],"data_offsets":[0,8]}})",
      R"([1,2])",
  };
  for (const char* h : bad) {
    auto bytes = SafetensorsBytes(h, 8);
    Status s = SafetensorsFile::Parse(bytes.data(), bytes.size(), "t", &f);
    CHECK(s.code() == StatusCode::kModelLoad);
  }
  // A zero-element tensor is legal and converts to nothing, even into an empty vector whose
  // data() is null (memcpy with a null destination was UB, found by fuzz_safetensors).
  auto empty = SafetensorsBytes(R"({"w":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]}})", 0);
  CHECK(SafetensorsFile::Parse(empty.data(), empty.size(), "t", &f).ok());
  CHECK(f && f->Find("w") && f->Find("w")->bytes == 0);
  std::vector<float> nothing;
  if (f && f->Find("w")) ToFloat32(*f->Find("w"), nothing.data());
  std::vector<uint8_t> lying(16, 0);
  lying[0] = 0xFF, lying[7] = 0x7F;  // header length far past the end
  CHECK(SafetensorsFile::Parse(lying.data(), lying.size(), "t", &f).code() == StatusCode::kModelLoad);
}

static void TestShardIndexParse() {
  std::vector<std::pair<std::string, std::string>> map;
  const std::string ok = R"({"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})";
  CHECK(ShardedSafetensors::ParseIndex(ok.data(), ok.size(), "i", &map).ok());
  CHECK(map.size() == 2 && map[0].first == "a" && map[1].second == "model-00002-of-00002.safetensors");
  const char* bad[] = {
      R"({"weight_map":{}})",                                  // nothing mapped
      R"({"metadata":{}})",                                    // no weight_map
      R"({"weight_map":["a"]})",                               // not an object
      R"({"weight_map":{"a":1}})",                             // shard not a name
      R"({"weight_map":{"a":"../model.safetensors"}})",        // outside the directory
      R"({"weight_map":{"a":"/etc/model.safetensors"}})",      // absolute
      R"({"weight_map":{"a":"sub\\x.safetensors"}})",        // a backslash
      R"({"weight_map":{"a":".safetensors"}})",                // hidden, no name
      R"({"weight_map":{"a":"model.bin"}})",                   // not safetensors
      R"({"weight_map":{"a":"x.safetensors","a":"y.safetensors"}})",  // duplicate key
      R"([1])",
      R"({"weight_map":)",
  };
  for (const char* text : bad) {
    Status s = ShardedSafetensors::ParseIndex(text, std::strlen(text), "i", &map);
    CHECK(s.code() == StatusCode::kModelLoad);
  }
  const std::string nul(R"({"weight_map":{"a":"x\u0000.safetensors"}})");  // an embedded NUL
  CHECK(ShardedSafetensors::ParseIndex(nul.data(), nul.size(), "i", &map).code() == StatusCode::kModelLoad);
}

static void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A container's memory limit: room = limit - (usage - inactive file pages), v2 and v1.
static std::string TempDir() {
  std::string path = (std::filesystem::temp_directory_path() / "crossrank-cgroup-XXXXXX").string();
  CHECK(mkdtemp(path.data()) != nullptr);
  return path;
}

static void TestCgroupMemoryRoom() {
  const std::string v2 = TempDir();
  CHECK(CgroupMemoryRoom(v2) == 0);  // no files: no limit known
  WriteText(v2 + "/memory.max", "max\n");
  WriteText(v2 + "/memory.current", "5000\n");
  CHECK(CgroupMemoryRoom(v2) == 0);  // "max": no limit
  WriteText(v2 + "/memory.max", "8000\n");
  CHECK(CgroupMemoryRoom(v2) == 3000);
  WriteText(v2 + "/memory.stat", "anon 3000\nfile 2000\nactive_file 500\ninactive_file 1500\n");
  CHECK(CgroupMemoryRoom(v2) == 4500);  // the inactive page cache is reclaimable
  WriteText(v2 + "/memory.current", "9000\n");
  WriteText(v2 + "/memory.stat", "inactive_file 0\n");
  CHECK(CgroupMemoryRoom(v2) == 1);  // over the limit: no room, but known
  const std::string v1 = TempDir();
  CHECK(std::filesystem::create_directory(v1 + "/memory"));
  WriteText(v1 + "/memory/memory.limit_in_bytes", "9223372036854771712\n");  // v1: unlimited
  WriteText(v1 + "/memory/memory.usage_in_bytes", "100\n");
  CHECK(CgroupMemoryRoom(v1) == 0);
  WriteText(v1 + "/memory/memory.limit_in_bytes", "1000\n");
  WriteText(v1 + "/memory/memory.stat", "cache 50\ntotal_inactive_file 40\n");
  CHECK(CgroupMemoryRoom(v1) == 940);
  for (const std::string& d : {v1, v2}) std::filesystem::remove_all(d);
}

static void TestThreadPool() {
  ThreadPool pool(4);
  for (size_t n : {0, 1, 3, 10, 17, 1000}) {
    std::vector<int> hits(n, 0);
    pool.ParallelFor(n, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) hits[i]++;
    });
    bool once = true;
    for (int h : hits) once = once && h == 1;
    CHECK(once);
  }
}

static void TestTruncation() {
  PairTemplate t;
  t.max_length = 13;  // budget 10
  size_t q, d;
  CHECK(!TruncatedLengths(3, 7, t, &q, &d) && q == 3 && d == 7);
  CHECK(TruncatedLengths(3, 20, t, &q, &d) && q == 3 && d == 7);
  CHECK(TruncatedLengths(20, 3, t, &q, &d) && q == 7 && d == 3);
  CHECK(TruncatedLengths(8, 9, t, &q, &d) && q == 5 && d == 5);
  t.truncation = Truncation::kOnlySecond;
  CHECK(TruncatedLengths(4, 20, t, &q, &d) && q == 4 && d == 6);
  CHECK(TruncatedLengths(20, 20, t, &q, &d) && q == 10 && d == 0);
}

using TensorSpecs = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// An F32 safetensors file in memory with seeded uniform values in [-amplitude/2, amplitude/2).
static std::vector<uint8_t> RandomF32Safetensors(const TensorSpecs& specs, uint32_t seed, float amplitude) {
  std::string header = "{";
  size_t offset = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    size_t count = 1;
    std::string shape;
    for (size_t d = 0; d < specs[i].second.size(); ++d) {
      count *= static_cast<size_t>(specs[i].second[d]);
      shape += (d ? "," : "") + std::to_string(specs[i].second[d]);
    }
    header += (i ? "," : "") + std::string("\"") + specs[i].first + "\":{\"dtype\":\"F32\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + count * 4) + "]}";
    offset += count * 4;
  }
  header += "}";
  std::vector<uint8_t> bytes = SafetensorsBytes(header, offset);
  uint32_t state = seed;
  for (size_t at = 8 + header.size(); at + 4 <= bytes.size(); at += 4) {
    state = state * 1664525u + 1013904223u;
    float v = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * amplitude;
    std::memcpy(bytes.data() + at, &v, 4);
  }
  return bytes;
}

// A tiny BERT with seeded weights, as safetensors bytes in memory: bare (BertModel names)
// or a classifier (bert. prefix + pooler + classifier).
static std::vector<uint8_t> TinyBert(const EncoderConfig& c) {
  TensorSpecs specs;
  const std::string p = c.bare ? "" : "bert.";
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  auto linear = [&](const std::string& n, int64_t out, int64_t in) {
    specs.push_back({n + ".weight", {out, in}});
    specs.push_back({n + ".bias", {out}});
  };
  auto norm = [&](const std::string& n) {
    specs.push_back({n + ".weight", {H}});
    specs.push_back({n + ".bias", {H}});
  };
  specs.push_back({p + "embeddings.word_embeddings.weight", {c.vocab_size, H}});
  specs.push_back({p + "embeddings.position_embeddings.weight", {c.max_positions, H}});
  specs.push_back({p + "embeddings.token_type_embeddings.weight", {c.type_vocab_size, H}});
  norm(p + "embeddings.LayerNorm");
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string L = p + "encoder.layer." + std::to_string(l);
    linear(L + ".attention.self.query", H, H);
    linear(L + ".attention.self.key", H, H);
    linear(L + ".attention.self.value", H, H);
    linear(L + ".attention.output.dense", H, H);
    norm(L + ".attention.output.LayerNorm");
    linear(L + ".intermediate.dense", I, H);
    linear(L + ".output.dense", H, I);
    norm(L + ".output.LayerNorm");
  }
  if (!c.bare) {
    linear("bert.pooler.dense", H, H);
    linear("classifier", c.num_labels, H);
  }
  return RandomF32Safetensors(specs, 12345, 0.4f);
}

static EncoderConfig TinyConfig(bool bare) {
  EncoderConfig c;
  c.vocab_size = 40, c.hidden_size = 8, c.num_layers = 2, c.num_heads = 2, c.intermediate_size = 16;
  c.max_positions = 32, c.type_vocab_size = 2, c.num_labels = 1, c.layer_norm_eps = 1e-12f, c.bare = bare;
  return c;
}

// The reference forward pass end to end: finite outputs, and a sequence packed with others
// gives what it gives alone (no state leaks between sequences of a packed batch).
static void TestEncoderForward() {
  for (bool bare : {false, true}) {
    EncoderConfig c = TinyConfig(bare);
    std::vector<uint8_t> bytes = TinyBert(c);
    std::unique_ptr<SafetensorsFile> file;
    CHECK(SafetensorsFile::Parse(bytes.data(), bytes.size(), "tiny", &file).ok());
    EncoderWeights w;
    Status loaded = LoadEncoderWeights(*file, c, &w);
    CHECK(loaded.ok());
    if (!loaded.ok()) continue;
    ThreadPool pool(2);
    PackedBatch batch;
    const std::vector<std::vector<int32_t>> seqs = {{1, 5, 9, 2}, {1, 7, 2, 30, 31, 2}, {3}};
    for (const auto& s : seqs) {
      for (size_t i = 0; i < s.size(); ++i) batch.token_ids.push_back(s[i]), batch.type_ids.push_back(i > 2 ? 1 : 0);
      batch.cu_seqlens.push_back(batch.cu_seqlens.back() + static_cast<int32_t>(s.size()));
    }
    std::vector<float> all, alone;
    CHECK(EncoderForwardReference(c, w, batch, pool, &all).ok());
    const size_t width = bare ? static_cast<size_t>(c.hidden_size) : 1;
    CHECK(all.size() == (bare ? static_cast<size_t>(batch.total_tokens()) : seqs.size()) * width);
    for (float v : all) CHECK(std::isfinite(v));
    PackedBatch second;
    second.token_ids = seqs[1];
    second.type_ids = {0, 0, 0, 1, 1, 1};
    second.cu_seqlens = {0, 6};
    CHECK(EncoderForwardReference(c, w, second, pool, &alone).ok());
    const size_t begin = bare ? 4 * width : 1;
    for (size_t i = 0; i < alone.size(); ++i) CHECK(std::fabs(alone[i] - all[begin + i]) < 1e-5f);
  }
  // A classifier's names are not a bare encoder's: a missing tensor is named.
  std::vector<uint8_t> bytes = TinyBert(TinyConfig(true));
  std::unique_ptr<SafetensorsFile> file;
  CHECK(SafetensorsFile::Parse(bytes.data(), bytes.size(), "tiny", &file).ok());
  EncoderWeights w;
  Status s = LoadEncoderWeights(*file, TinyConfig(false), &w);
  CHECK(s.code() == StatusCode::kModelLoad && s.message().find("bert.embeddings.word_embeddings.weight") != std::string::npos);
}

// WordPiece on hostile input: invalid UTF-8, long words, CJK, control characters.
static void TestWordPieceHostileInput() {
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s", "un", "##aff", "##able", "\xe4\xb8\xad"};
  WordPieceConfig config;
  std::unique_ptr<WordPieceTokenizer> t;
  CHECK(WordPieceTokenizer::Create(vocab, config, &t).ok());
  if (!t) return;
  const std::string inputs[] = {
      "the cats unaffable", "\xff\xfe\xfd broken \xc3", "\xed\xa0\x80 lone surrogate bytes", std::string(5000, 'a'),
      "\xe4\xb8\xad\xe6\x96\x87 CJK", std::string("nul\0inside", 11), "\x01\x02\x7f tabs\tand\nnewlines", "",
  };
  for (const std::string& in : inputs) {
    std::vector<int32_t> ids;
    t->Encode(in, &ids);
    for (int32_t id : ids) CHECK(id >= 0 && static_cast<size_t>(id) < vocab.size());
  }
  std::vector<int32_t> ids;
  t->Encode("the cats", &ids);
  CHECK(ids == (std::vector<int32_t>{4, 5, 6}));
}

// The vocabulary table against std::unordered_map (first insertion wins), through growth,
// with colliding-length keys, the empty string and absent keys.
static void TestVocabTable() {
  VocabTable table;
  std::unordered_map<std::string, int32_t> want;
  std::mt19937 rng(7);
  std::vector<std::string> keys = {"", "a", "##", "##a", "the", "the"};  // "the" twice: the first id stays
  for (int i = 0; i < 5000; ++i) {
    std::string k(1 + rng() % 8, ' ');
    for (char& c : k) c = static_cast<char>('a' + rng() % 4);  // few letters: many equal hashes' neighbours
    keys.push_back(k);
  }
  for (size_t id = 0; id < keys.size(); ++id) {
    table.Insert(keys[id], static_cast<int32_t>(id));
    want.emplace(keys[id], static_cast<int32_t>(id));
  }
  for (const auto& [key, id] : want) CHECK(table.Find(key) == id);
  CHECK(table.Find("the") == 4);
  for (const char* absent : {"zzz", "aaaaaaaaa", "the ", "##b"}) CHECK(table.Find(absent) == (want.count(absent) ? want[absent] : -1));
  CHECK(VocabTable().Find("x") == -1);

  // A token listed twice keeps its first id, before and after the continuing prefix.
  std::vector<std::string> vocab = {"[UNK]", "run", "##s", "run", "##s"};
  std::unique_ptr<WordPieceTokenizer> t;
  CHECK(WordPieceTokenizer::Create(vocab, WordPieceConfig(), &t).ok());
  if (!t) return;
  std::vector<int32_t> ids;
  t->Encode("runs", &ids);
  CHECK(ids == (std::vector<int32_t>{1, 2}));
}

// A tiny Qwen3 decoder with seeded weights (transformers' names), as safetensors bytes.
static std::vector<uint8_t> TinyQwen3(const DecoderConfig& c) {
  TensorSpecs specs = {{"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}}};
  const int64_t H = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim, I = c.intermediate_size;
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    specs.push_back({p + "input_layernorm.weight", {H}});
    specs.push_back({p + "post_attention_layernorm.weight", {H}});
    specs.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
    specs.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    specs.push_back({p + "self_attn.q_proj.weight", {q, H}});
    specs.push_back({p + "self_attn.k_proj.weight", {kv, H}});
    specs.push_back({p + "self_attn.v_proj.weight", {kv, H}});
    specs.push_back({p + "self_attn.o_proj.weight", {H, q}});
    specs.push_back({p + "mlp.gate_proj.weight", {I, H}});
    specs.push_back({p + "mlp.up_proj.weight", {I, H}});
    specs.push_back({p + "mlp.down_proj.weight", {H, I}});
  }
  specs.push_back({"model.norm.weight", {H}});
  if (!c.tie_word_embeddings) specs.push_back({"lm_head.weight", {c.vocab_size, H}});
  return RandomF32Safetensors(specs, 777, 0.8f);
}

// The prefix-shared path (prefix run once, its key/value cache reused) equals running every
// prompt whole; outputs are finite; bad ids and missing tensors are typed errors.
static void TestDecoderPrefixSharing() {
  DecoderConfig c;
  c.vocab_size = 50, c.hidden_size = 16, c.intermediate_size = 32, c.num_layers = 2, c.num_heads = 4, c.num_kv_heads = 2;
  c.head_dim = 8, c.max_positions = 64, c.rms_norm_eps = 1e-6f, c.rope_theta = 10000, c.tie_word_embeddings = true;
  std::vector<uint8_t> bytes = TinyQwen3(c);
  std::unique_ptr<SafetensorsFile> file;
  CHECK(SafetensorsFile::Parse(bytes.data(), bytes.size(), "qwen3", &file).ok());
  DecoderWeights w;
  Status loaded = LoadDecoderWeights(*file, c, {7, 9}, &w);
  CHECK(loaded.ok());
  if (!loaded.ok()) return;
  ThreadPool pool(2);
  const std::vector<int32_t> prefix = {1, 2, 3, 4, 5, 6};
  const std::vector<std::vector<int32_t>> docs = {{10, 11, 12}, {13}, {14, 15, 16, 17, 18, 19, 20}};
  // Whole prompts, and the same prompts as continuations of one prefix; a third way: each
  // document twice in one batch, one of them whole, beside a second prefix.
  DecoderBatch whole_batch, shared_batch, mixed;
  const int32_t p0 = shared_batch.AddPrefix(prefix);
  mixed.AddPrefix({1, 2});
  const int32_t p1 = mixed.AddPrefix(prefix);
  for (const auto& d : docs) {
    std::vector<int32_t> full = prefix;
    full.insert(full.end(), d.begin(), d.end());
    whole_batch.AddSequence(full.data(), full.size(), -1);
    shared_batch.AddSequence(d.data(), d.size(), p0);
    mixed.AddSequence(d.data(), d.size(), p1);
    mixed.AddSequence(full.data(), full.size(), -1);
  }
  std::vector<float> whole, shared, both;
  CHECK(DecoderScoreReference(c, w, whole_batch, pool, &whole).ok());
  CHECK(DecoderScoreReference(c, w, shared_batch, pool, &shared).ok());
  CHECK(DecoderScoreReference(c, w, mixed, pool, &both).ok());
  CHECK(whole.size() == 6 && shared.size() == 6 && both.size() == 12);
  // Equal bitwise: every op's result for a row is independent of the rows beside it (which
  // rows share a linear layer, a step or an attention tile).
  float spread = 0;
  for (size_t i = 0; i < whole.size() && i < shared.size() && 2 * i < both.size(); ++i) {
    CHECK(std::isfinite(whole[i]));
    CHECK(whole[i] == shared[i]);
    const size_t doc = i / 2, answer = i % 2;
    CHECK(both[4 * doc + answer] == whole[i]);      // continued the prefix
    CHECK(both[4 * doc + 2 + answer] == whole[i]);  // whole
    spread = std::max(spread, std::fabs(whole[i] - whole[0]));
  }
  CHECK(spread > 1e-3f);  // the documents do change the answer
  // Steps of any size (one sequence each; two or three; all at once) give the same logits.
  for (size_t step_tokens : {size_t{1}, size_t{8}, size_t{12}, size_t{1000}}) {
    std::vector<float> stepped;
    CHECK(DecoderScoreReference(c, w, mixed, pool, &stepped, step_tokens).ok());
    CHECK(stepped == both);
  }
  // Typed errors: an id outside the vocabulary, a prefix that does not exist, too long.
  DecoderBatch bad = shared_batch;
  bad.sequences.token_ids[0] = 50;
  CHECK(DecoderScoreReference(c, w, bad, pool, &shared).code() == StatusCode::kInvalidArgument);
  bad = shared_batch;
  bad.prefix_of[1] = 3;
  CHECK(DecoderScoreReference(c, w, bad, pool, &shared).code() == StatusCode::kInvalidArgument);
  bad = shared_batch;
  std::vector<int32_t> long_doc(60, 10);
  bad.AddSequence(long_doc.data(), long_doc.size(), p0);  // 6 + 60 > 64 positions
  Status too_long = DecoderScoreReference(c, w, bad, pool, &shared);
  CHECK(too_long.code() == StatusCode::kInvalidArgument && too_long.message().find("with its prefix") != std::string::npos);
  DecoderConfig untied = c;
  untied.tie_word_embeddings = false;
  Status missing = LoadDecoderWeights(*file, untied, {7, 9}, &w);
  CHECK(missing.code() == StatusCode::kModelLoad && missing.message().find("lm_head.weight") != std::string::npos);
}

// Of the output layer only the answer rows are read: the embeddings' rows when tied, lm_head's
// when not, in the order of the answer ids.
static void TestDecoderAnswerRows() {
  DecoderConfig c;
  c.vocab_size = 50, c.hidden_size = 16, c.intermediate_size = 32, c.num_layers = 1, c.num_heads = 4, c.num_kv_heads = 2;
  c.head_dim = 8, c.max_positions = 64, c.rms_norm_eps = 1e-6f, c.rope_theta = 10000;
  for (bool tied : {true, false}) {
    c.tie_word_embeddings = tied;
    std::vector<uint8_t> bytes = TinyQwen3(c);
    std::unique_ptr<SafetensorsFile> file;
    CHECK(SafetensorsFile::Parse(bytes.data(), bytes.size(), "qwen3", &file).ok());
    DecoderWeights w;
    CHECK(LoadDecoderWeights(*file, c, {9, 7}, &w).ok());
    std::vector<float> head;
    const TensorView* t = file->Find(tied ? "model.embed_tokens.weight" : "lm_head.weight");
    CHECK(t != nullptr);
    if (!t) return;
    head.resize(t->bytes / 4);
    ToFloat32(*t, head.data());
    CHECK(w.answer.weight.size() == 2 * size_t(c.hidden_size));
    for (int i = 0; i < c.hidden_size && w.answer.weight.size() == 2 * size_t(c.hidden_size); ++i) {
      CHECK(w.answer.weight[i] == head[9 * c.hidden_size + i]);
      CHECK(w.answer.weight[c.hidden_size + i] == head[7 * c.hidden_size + i]);
    }
    if (!tied) CHECK(head != w.embed);  // the untied rows really come from lm_head
  }
}

// config.json as transformers 4.x (rope_theta) and 5 (rope_parameters) write it.
static void TestDecoderConfigFromJson() {
  const std::string sizes = R"("vocab_size": 50, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "max_position_embeddings": 64)";
  DecoderConfig c;
  CHECK(DecoderConfigFromJson("{" + sizes + R"(, "rope_theta": 1000000, "rope_scaling": null, "tie_word_embeddings": true})", &c).ok());
  CHECK(c.rope_theta == 1e6 && c.tie_word_embeddings && c.num_kv_heads == 2 && c.rms_norm_eps == 1e-6f);
  CHECK(DecoderConfigFromJson("{" + sizes + R"(, "rope_parameters": {"rope_type": "default", "rope_theta": 500000}})", &c).ok());
  CHECK(c.rope_theta == 5e5 && !c.tie_word_embeddings);
  CHECK(DecoderConfigFromJson("{" + sizes + "}", &c).ok() && c.rope_theta == 10000);
  Status yarn = DecoderConfigFromJson("{" + sizes + R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4}})", &c);
  CHECK(yarn.code() == StatusCode::kModelLoad && yarn.message().find("yarn") != std::string::npos);
  CHECK(DecoderConfigFromJson(R"({"vocab_size": 50})", &c).code() == StatusCode::kModelLoad);
  // Sliding windows: refused where a layer uses one shorter than the positions.
  auto parses = [&](const std::string& extra) { return DecoderConfigFromJson("{" + sizes + ", " + extra + "}", &c).ok(); };
  CHECK(!parses(R"("use_sliding_window": true, "sliding_window": 16, "max_window_layers": 1)"));
  CHECK(parses(R"("use_sliding_window": true, "sliding_window": 16, "max_window_layers": 2)"));   // no layer from 2 on
  CHECK(parses(R"("use_sliding_window": false, "sliding_window": 16, "max_window_layers": 0)"));  // off
  CHECK(parses(R"("use_sliding_window": true, "sliding_window": 64, "max_window_layers": 0)"));   // covers all 64
  CHECK(!parses(R"("layer_types": ["full_attention", "sliding_attention"], "sliding_window": 16)"));
  CHECK(!parses(R"("layer_types": ["full_attention", "sliding_attention"], "sliding_window": null)"));
  CHECK(parses(R"("layer_types": ["full_attention", "full_attention"], "use_sliding_window": true, "sliding_window": 16, "max_window_layers": 0)"));
  CHECK(parses(R"("hidden_act": "silu", "attention_bias": false)"));
  CHECK(!parses(R"("hidden_act": "gelu")"));
  CHECK(!parses(R"("attention_bias": true)"));
}

// `crossrank_native_tests --qwen3 <model_dir>`: the decoder reference on a real model
// directory for the test suite's parity checks. stdin: {"prefix": [...], "continuations":
// [[...], ...], "token_ids": [yes, no]}; stdout: {"full": [[yes, no], ...], "shared": [...]}
// (full: prefix + continuation run whole; shared: the prefix's cache reused).
static int Qwen3Tool(const std::string& dir) {
  auto read = [](const std::string& path, std::string* out) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
    std::fclose(f);
    return true;
  };
  std::string config_text, input;
  if (!read(dir + "/config.json", &config_text)) return std::fprintf(stderr, "no config.json\n"), 2;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) input.append(buf, n);
  json::Value in;
  std::string error;
  if (!json::Parse(input.data(), input.size(), &in, &error)) {
    return std::fprintf(stderr, "bad JSON: %s\n", error.c_str()), 2;
  }
  DecoderConfig c;
  Status s = DecoderConfigFromJson(config_text, &c);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 2;
  auto ids = [](const json::Value& a) {
    std::vector<int32_t> out;
    for (const json::Value& v : a.array) out.push_back(static_cast<int32_t>(v.number));
    return out;
  };
  std::unique_ptr<SafetensorsFile> file;
  s = SafetensorsFile::Open(dir + "/model.safetensors", &file);
  DecoderWeights w;
  if (s.ok()) s = LoadDecoderWeights(*file, c, ids(*in.Get("token_ids")), &w);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
  const std::vector<int32_t> prefix = ids(*in.Get("prefix"));
  DecoderBatch whole_batch, shared_batch;
  const int32_t p = shared_batch.AddPrefix(prefix);
  for (const json::Value& cont : in.Get("continuations")->array) {
    std::vector<int32_t> rest = ids(cont), full = prefix;
    full.insert(full.end(), rest.begin(), rest.end());
    whole_batch.AddSequence(full.data(), full.size(), -1);
    shared_batch.AddSequence(rest.data(), rest.size(), p);
  }
  ThreadPool pool(2);
  std::vector<float> whole, shared;
  s = DecoderScoreReference(c, w, whole_batch, pool, &whole);
  if (s.ok()) s = DecoderScoreReference(c, w, shared_batch, pool, &shared);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
  auto print = [](const std::vector<float>& v) {
    std::string out = "[";
    for (size_t i = 0; i + 1 < v.size(); i += 2) out += (i ? "," : "") + std::string("[") + std::to_string(v[i]) + "," + std::to_string(v[i + 1]) + "]";
    return out + "]";
  };
  std::printf("{\"full\": %s, \"shared\": %s}\n", print(whole).c_str(), print(shared).c_str());
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--qwen3") return Qwen3Tool(argv[2]);
  TestDecoderPrefixSharing();
  TestDecoderAnswerRows();
  TestDecoderConfigFromJson();
  TestEncoderForward();
  TestWordPieceHostileInput();
  TestVocabTable();
  TestJson();
  TestSafetensorsParse();
  TestShardIndexParse();
  TestCgroupMemoryRoom();
  TestThreadPool();
  TestLinearForward();
  TestVectorExp();
  TestGelu();
  TestAttendHead();
  TestTruncation();
  TestScoreHeadSigmoid();
  TestScoreHeadSoftmax();
  TestScoreHeadErrors();
  std::printf("native tests: %d failure(s)\n", CheckFailures());
  return CheckFailures() == 0 ? 0 : 1;
}
