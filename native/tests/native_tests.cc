// CPU-only native tests, run by `ctest`-free CI through test/native/native-tests.test.ts.
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "check.h"
#include "crossrank/score_head.h"
#include "crossrank/status.h"

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

int main() {
  TestScoreHeadSigmoid();
  TestScoreHeadSoftmax();
  TestScoreHeadErrors();
  std::printf("native tests: %d failure(s)\n", CheckFailures());
  return CheckFailures() == 0 ? 0 : 1;
}
