// CPU-only native tests, run by `ctest`-free CI through test/native/native-tests.test.ts.
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <limits>
#include <vector>

#include "check.h"
#include "crossrank/score_head.h"
#include "crossrank/safetensors.h"
#include "crossrank/status.h"
#include "crossrank/thread_pool.h"
#include "crossrank/tokenizer.h"
#include "model/json.h"

using namespace crossrank;

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
      R"([1,2])",
  };
  for (const char* h : bad) {
    auto bytes = SafetensorsBytes(h, 8);
    Status s = SafetensorsFile::Parse(bytes.data(), bytes.size(), "t", &f);
    CHECK(s.code() == StatusCode::kModelLoad);
  }
  std::vector<uint8_t> lying(16, 0);
  lying[0] = 0xFF, lying[7] = 0x7F;  // header length far past the end
  CHECK(SafetensorsFile::Parse(lying.data(), lying.size(), "t", &f).code() == StatusCode::kModelLoad);
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

int main() {
  TestJson();
  TestSafetensorsParse();
  TestThreadPool();
  TestTruncation();
  TestScoreHeadSigmoid();
  TestScoreHeadSoftmax();
  TestScoreHeadErrors();
  std::printf("native tests: %d failure(s)\n", CheckFailures());
  return CheckFailures() == 0 ? 0 : 1;
}
