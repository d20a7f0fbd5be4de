// The decoder part of the CUDA harness: a Qwen3 model directory (config.json +
// model.safetensors) and real reranking prompts (token ids written by
// scripts/device/qwen3-prompts.mjs: per query, its prompt prefix and its documents'
// continuations). Checks the CUDA decoder against the CPU reference, prefix-shared against
// unshared, and times both at every query's documents.
//
//   crossrank_cuda_ops <libcrossrank_cuda.so> --qwen3 <dir> --prompts <json> [--dump out.json] [--cpu-docs N]
//                      [--element bf16|fp16] [--queries N] [--quick]
//
// --element: the CUDA decoder's element type (default bf16, the engine's default); --queries:
// only the first N queries of the prompts file.
// --dump writes every query's logits (shared and unshared) and timings, for
// scripts/device/qwen3_compare.py to set against transformers' Qwen3ForCausalLM. --quick
// (for the CPU emulation) times one run instead of a warm-up and five.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crossrank/decoder.h"
#include "crossrank/safetensors.h"
#include "model/json.h"
#include "tests/cuda_harness.h"

using namespace crossrank;

namespace {

std::vector<int32_t> Ids(const json::Value* v) {
  std::vector<int32_t> out;
  if (v) for (const json::Value& x : v->array) out.push_back(static_cast<int32_t>(x.number));
  return out;
}

struct Query {
  std::string qid;
  std::vector<int32_t> prefix;
  std::vector<std::vector<int32_t>> docs;

  DecoderBatch Shared(size_t n) const {
    DecoderBatch b;
    const int32_t p = b.AddPrefix(prefix);
    for (size_t d = 0; d < n && d < docs.size(); ++d) b.AddSequence(docs[d].data(), docs[d].size(), p);
    return b;
  }
  DecoderBatch Whole(size_t n) const {
    DecoderBatch b;
    for (size_t d = 0; d < n && d < docs.size(); ++d) {
      std::vector<int32_t> full = prefix;
      full.insert(full.end(), docs[d].begin(), docs[d].end());
      b.AddSequence(full.data(), full.size(), -1);
    }
    return b;
  }
};

float Yes(const std::vector<float>& logits, size_t row) {  // softmax([yes, no])[0]
  return 1.0f / (1.0f + std::exp(logits[2 * row + 1] - logits[2 * row]));
}

// Both infinite where a value is NaN (see MaxDiff).
double MaxYesDiff(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> ya, yb;
  for (size_t r = 0; 2 * r + 1 < a.size() && 2 * r + 1 < b.size(); ++r) ya.push_back(Yes(a, r)), yb.push_back(Yes(b, r));
  return MaxDiff(ya, yb);
}

double MaxLogitDiff(const std::vector<float>& a, const std::vector<float>& b) {
  return MaxDiff(a.data(), b.data(), std::min(a.size(), b.size()));
}

double TimeMs(DecoderModel& model, const DecoderBatch& batch, int iters, bool warm_up, std::vector<float>* out) {
  if (warm_up) model.Score(batch, out);  // buffers grow once
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) model.Score(batch, out);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
}

}  // namespace

int RunDecoder(const std::string& dir, const std::string& prompts_path, const std::string& dump, int cpu_docs,
               const std::string& element, int max_queries, bool quick) {
  if (element != "bf16" && element != "fp16") {
    std::printf("--element must be bf16 or fp16, got %s\n", element.c_str());
    return 2;
  }
  const CudaElementType element_type = element == "fp16" ? CudaElementType::kFp16 : CudaElementType::kBf16;
  std::string config_text, prompts_text, error;
  if (!ReadFile(dir + "/config.json", &config_text) || !ReadFile(prompts_path, &prompts_text)) {
    std::printf("cannot read %s/config.json or %s\n", dir.c_str(), prompts_path.c_str());
    return 2;
  }
  DecoderConfig config;
  Status s = DecoderConfigFromJson(config_text, &config);
  json::Value prompts;
  if (!s.ok() || !json::Parse(prompts_text.data(), prompts_text.size(), &prompts, &error)) {
    std::printf("config or prompts: %s%s\n", s.message().c_str(), error.c_str());
    return 2;
  }
  const std::vector<int32_t> answers = Ids(prompts.Get("answer_ids"));
  std::vector<Query> queries;
  if (const json::Value* qs = prompts.Get("queries")) {
    for (const json::Value& q : qs->array) {
      Query query;
      query.qid = q.Get("qid") ? q.Get("qid")->string : "";
      query.prefix = Ids(q.Get("prefix"));
      if (const json::Value* docs = q.Get("docs")) for (const json::Value& d : docs->array) query.docs.push_back(Ids(&d));
      const bool room = max_queries <= 0 || queries.size() < size_t(max_queries);
      if (room && !query.prefix.empty() && !query.docs.empty()) queries.push_back(std::move(query));
    }
  }
  if (answers.size() != 2 || queries.empty()) {
    std::printf("%s: needs answer_ids [yes, no] and queries with a prefix and documents\n", prompts_path.c_str());
    return 2;
  }
  std::unique_ptr<DecoderModel> cpu, gpu;
  const int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  s = DecoderModel::Load(WeightsPathIn(dir), config, answers, threads, -1, element_type, &cpu);
  if (s.ok()) s = DecoderModel::Load(WeightsPathIn(dir), config, answers, threads, 0, element_type, &gpu);
  if (!s.ok()) {
    std::printf("load: %s\n", s.message().c_str());
    return 2;
  }

  // 1. The CUDA decoder against the CPU reference (a few documents: the reference is slow).
  const Query& first = queries[0];
  std::vector<float> want, got_shared, got_whole;
  DecoderBatch cpu_batch = first.Shared(size_t(cpu_docs));
  if (!(s = cpu->Score(cpu_batch, &want)).ok() || !(s = gpu->Score(cpu_batch, &got_shared)).ok() ||
      !(s = gpu->Score(first.Whole(size_t(cpu_docs)), &got_whole)).ok()) {
    std::printf("score: %s\n", s.message().c_str());
    return 1;
  }
  const double ref_logit = std::max(MaxLogitDiff(want, got_shared), MaxLogitDiff(want, got_whole));
  const double ref_yes = std::max(MaxYesDiff(want, got_shared), MaxYesDiff(want, got_whole));
  auto yes = [](const std::vector<float>& logits) {
    std::vector<double> p(logits.size() / 2);
    for (size_t r = 0; r < p.size(); ++r) p[r] = Yes(logits, r);
    return p;
  };
  const RankAgreement order_shared = CompareTopK(yes(want), yes(got_shared), want.size() / 2, 1e-3);
  const RankAgreement order_whole = CompareTopK(yes(want), yes(got_whole), want.size() / 2, 1e-3);
  const bool strict = order_shared.strict && order_whole.strict, up_to_ties = order_shared.up_to_ties && order_whole.up_to_ties;
  std::printf("CUDA (%s) vs CPU reference, query %s, %zu documents: max |logit diff| %.3g, max |p(yes) diff| %.3g, order %s\n",
              element.c_str(), first.qid.c_str(), static_cast<size_t>(cpu_batch.sequences.num_seqs()), ref_logit, ref_yes,
              strict ? "identical" : up_to_ties ? "identical up to near-ties (< 1e-3)" : "DIFFERENT");

  // 2. Per query, all documents: prefix-shared vs unshared, agreement and time.
  std::printf("| query | docs | tokens unshared | tokens shared | unshared ms | shared ms | speed-up | max |p(yes) diff| |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  std::ostringstream json;
  double shared_total = 0, whole_total = 0, worst_agreement = 0;
  bool ok = ref_yes <= 2e-2 && up_to_ties;
  for (size_t qi = 0; qi < queries.size(); ++qi) {
    const Query& q = queries[qi];
    DecoderBatch shared = q.Shared(q.docs.size()), whole = q.Whole(q.docs.size());
    std::vector<float> a, b;
    const double ms_whole = TimeMs(*gpu, whole, quick ? 1 : 5, !quick, &b);
    const double ms_shared = TimeMs(*gpu, shared, quick ? 1 : 5, !quick, &a);
    const double agreement = MaxYesDiff(a, b);
    worst_agreement = std::max(worst_agreement, agreement);
    shared_total += ms_shared, whole_total += ms_whole;
    std::printf("| %s | %zu | %d | %d | %.2f | %.2f | %.2fx | %.2g |\n", q.qid.c_str(), q.docs.size(),
                whole.sequences.total_tokens(), shared.sequences.total_tokens() + int(q.prefix.size()), ms_whole, ms_shared,
                ms_whole / ms_shared, agreement);
    json << (qi ? "," : "") << "{\"qid\":\"" << q.qid << "\",\"logits_shared\":" << JsonArray(a)
         << ",\"logits_unshared\":" << JsonArray(b) << ",\"ms_shared\":" << ms_shared << ",\"ms_unshared\":" << ms_whole
         << "}";
  }
  const double speedup = whole_total / shared_total;
  std::printf("all queries: prefix sharing %.2fx faster (%.1f vs %.1f ms per query), shared vs unshared max |p(yes) diff| %.3g\n",
              speedup, shared_total / queries.size(), whole_total / queries.size(), worst_agreement);
  ok = ok && worst_agreement <= 2e-2;
  if (!dump.empty()) {
    std::ofstream out(dump);
    out << "{\"element\":\"" << element << "\",\"answer_ids\":" << JsonArray(answers) << ",\"cpu_reference\":{\"docs\":" << cpu_batch.sequences.num_seqs()
        << ",\"max_logit_diff\":" << ref_logit << ",\"max_yes_diff\":" << ref_yes << "},\"speedup\":" << speedup
        << ",\"queries\":[" << json.str() << "]}\n";
  }
  return ok ? 0 : 1;
}
