// The end-to-end part of the CUDA harness: a model directory (config.json +
// model.safetensors) run by the CPU reference and by the CUDA backend on the same packed
// batches; logits compared, CUDA timed at 100 and 1,000 pairs for several length profiles.
//
//   crossrank_cuda_ops <libcrossrank_cuda.so> --model <dir> [--element fp16|bf16] [--dump out.json]
//                      [--parity-only] [--quick]
//
// --element: the CUDA engine's 16-bit type (default fp16, the encoders' default).
// --parity-only: the 100-pair comparison without the timings.
// --dump writes the 100-pair batch (ids, cu_seqlens) with both logits and the timings, for
// scripts/device/torch_compare.py to set against PyTorch on the same weights. --quick (for
// the CPU emulation) compares 24 pairs and skips the timings.
#include <algorithm>
#include <chrono>
#include <memory>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crossrank/cuda_library.h"
#include "crossrank/encoder.h"
#include "crossrank/safetensors.h"
#include "model/json.h"
#include "tests/cuda_harness.h"

using namespace crossrank;

namespace {

// Logits closer than this may trade places (CompareTopK): 1e-3 in fp16, 8 times that in
// bf16 (its unit roundoff is 8 times fp16's); below the 2e-2 score tolerance either way.
double RankTie(const std::string& element) { return element == "bf16" ? 8e-3 : 1e-3; }

bool ReadConfig(const std::string& dir, EncoderConfig* c, std::string* error) {
  std::string s;
  if (!ReadFile(dir + "/config.json", &s)) return *error = "cannot read " + dir + "/config.json", false;
  json::Value v;
  if (!json::Parse(s.data(), s.size(), &v, error)) return false;
  auto num = [&](const char* key, double fallback) {
    const json::Value* x = v.Get(key);
    return x && x->kind == json::Value::Kind::kNumber ? x->number : fallback;
  };
  const json::Value* arch = v.Get("architectures");
  const std::string name = arch && !arch->array.empty() ? arch->array[0].string : "";
  c->arch = name.find("Roberta") != std::string::npos ? EncoderArch::kRoberta : EncoderArch::kBert;
  c->vocab_size = int(num("vocab_size", 0));
  c->hidden_size = int(num("hidden_size", 0));
  c->num_layers = int(num("num_hidden_layers", 0));
  c->num_heads = int(num("num_attention_heads", 0));
  c->intermediate_size = int(num("intermediate_size", 0));
  c->max_positions = int(num("max_position_embeddings", 512));
  c->type_vocab_size = int(num("type_vocab_size", 2));
  const json::Value* labels = v.Get("id2label");
  c->num_labels = int(num("num_labels", labels ? double(labels->object.size()) : 1));
  c->layer_norm_eps = float(num("layer_norm_eps", 1e-12));
  c->pad_token_id = int(num("pad_token_id", 0));
  Status s2 = c->Validate();
  if (!s2.ok()) *error = s2.message();
  return s2.ok();
}

// `pairs` sequences; length profile 0: uniform 53..163 tokens (about TREC DL 2019 BM25
// top-100 passages with a query and special tokens, p5..p95), else the fixed length.
PackedBatch MakeBatch(const EncoderConfig& c, int pairs, int fixed_length, std::mt19937& rng) {
  PackedBatch b;
  std::uniform_int_distribution<int> len(53, 163), id(1000, std::max(1001, c.vocab_size - 1));
  for (int p = 0; p < pairs; ++p) {
    const int n = std::min(fixed_length ? fixed_length : len(rng), c.max_sequence_length());
    for (int t = 0; t < n; ++t) {
      b.token_ids.push_back(t == 0 ? 101 % c.vocab_size : id(rng));
      b.type_ids.push_back(t > 10 && c.arch == EncoderArch::kBert && c.type_vocab_size > 1 ? 1 : 0);
    }
    b.cu_seqlens.push_back(b.cu_seqlens.back() + n);
  }
  return b;
}

double FlopsPerBatch(const EncoderConfig& c, const PackedBatch& b) {
  const double H = c.hidden_size, I = c.intermediate_size;
  double flops = 0;
  for (int s = 0; s < b.num_seqs(); ++s) {
    const double L = b.cu_seqlens[s + 1] - b.cu_seqlens[s];
    flops += c.num_layers * (L * 2 * (4 * H * H + 2 * H * I) + 4 * L * L * H);
  }
  return flops;
}

}  // namespace

int RunModel(const std::string& dir, const std::string& dump, const std::string& element, bool parity_only, bool quick) {
  EncoderConfig config;
  std::string error;
  if (!ReadConfig(dir, &config, &error)) {
    std::printf("config: %s\n", error.c_str());
    return 2;
  }
  std::unique_ptr<EncoderModel> cpu, gpu;
  if (element != "fp16" && element != "bf16") {
    std::printf("--element must be fp16 or bf16, got %s\n", element.c_str());
    return 2;
  }
  const CudaElementType element_type = element == "bf16" ? CudaElementType::kBf16 : CudaElementType::kFp16;
  Status s = EncoderModel::Load(WeightsPathIn(dir), config, 0, -1, element_type, &cpu);
  if (s.ok()) s = EncoderModel::Load(WeightsPathIn(dir), config, 0, 0, element_type, &gpu);
  if (!s.ok()) {
    std::printf("load: %s\n", s.message().c_str());
    return 2;
  }
  std::mt19937 rng(42);
  PackedBatch batch = MakeBatch(config, quick ? 24 : 100, 0, rng);
  std::vector<float> want, got;
  if (!(s = cpu->Forward(batch, &want)).ok() || !(s = gpu->Forward(batch, &got)).ok()) {
    std::printf("forward: %s\n", s.message().c_str());
    return 1;
  }
  const double diff = MaxDiff(want, got);
  // The positive label's logit ranks the pairs (as the score head's last column does).
  auto ranking = [&](const std::vector<float>& v) {
    std::vector<double> r(batch.num_seqs());
    for (size_t i = 0; i < r.size(); ++i) r[i] = v[i * config.num_labels + config.num_labels - 1];
    return r;
  };
  const double tie = RankTie(element);
  const RankAgreement top10 = CompareTopK(ranking(want), ranking(got), 10, tie);
  std::printf("model %s: CUDA (%s) vs CPU reference, %d pairs: max_abs_diff=%.3g, top-10 ", dir.c_str(), element.c_str(),
              batch.num_seqs(), diff);
  if (top10.strict) std::printf("identical\n");
  else if (top10.up_to_ties) std::printf("identical up to near-ties (< %g)\n", tie);
  else std::printf("DIFFERENT\n");
  // By the engine's rule (kernels/linear_library.cuh): a named engine, else cuBLASLt where it opens.
  const char* gemm = std::getenv("CROSSRANK_CUDA_GEMM");
  std::string lt_detail;
  const bool named = gemm && *gemm && std::string(gemm) != "auto";
  const bool lt = named ? std::string(gemm) == "cublaslt" : CudaLibrary::Instance().CublasLtInfo(&lt_detail);
  std::printf("linear layers: %s\n", lt ? "cublaslt" : named ? gemm : "pipelined (own kernels)");

  std::ostringstream timings;
  if (!quick && !parity_only) {
    std::printf("| pairs | tokens/pair | pairs/s | ms/batch | TFLOP/s |\n|---:|---|---:|---:|---:|\n");
    for (int pairs : {100, 1000}) {
      for (int fixed : {0, 128, 256, 512}) {
        PackedBatch b = MakeBatch(config, pairs, fixed, rng);
        std::vector<float> out;
        gpu->Forward(b, &out);  // warm-up (buffers grow once)
        const int iters = pairs == 100 ? 20 : 5;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < iters; ++i) gpu->Forward(b, &out);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
        const double tflops = FlopsPerBatch(config, b) / (ms * 1e-3) / 1e12;
        const std::string profile = fixed ? std::to_string(fixed) : "TREC DL (53-163)";
        std::printf("| %d | %s | %.0f | %.2f | %.1f |\n", pairs, profile.c_str(), pairs / (ms * 1e-3), ms, tflops);
        timings << (timings.tellp() > 0 ? "," : "") << "{\"pairs\":" << pairs << ",\"length\":\"" << profile
                << "\",\"ms\":" << ms << ",\"tflops\":" << tflops << "}";
      }
    }
  }
  if (!dump.empty()) {
    std::ofstream out(dump);
    out << "{\"token_ids\":" << JsonArray(batch.token_ids) << ",\"type_ids\":" << JsonArray(batch.type_ids)
        << ",\"cu_seqlens\":" << JsonArray(batch.cu_seqlens) << ",\"logits_cpu\":" << JsonArray(want)
        << ",\"logits_cuda\":" << JsonArray(got) << ",\"num_labels\":" << config.num_labels << ",\"element\":\"" << element << "\",\"timings\":["
        << timings.str() << "]}\n";
  }
  return diff <= 2e-2 && top10.up_to_ties ? 0 : 1;
}
