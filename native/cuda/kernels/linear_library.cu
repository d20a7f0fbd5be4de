// cuBLASLt behind the linear layers (see linear_library.cuh).
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>

#include "cuda/kernels/linear_library.cuh"

namespace crossrank::cuda {
namespace {

// NVIDIA advises 32 MiB on Hopper (older cards need less; beside a model it is small).
constexpr size_t kWorkspaceBytes = size_t(32) << 20;
// Batch-invariant plans are found for this many rows, whatever the batch's (a typical
// decoder batch: 100 documents of ~100 tokens).
constexpr int kInvariantRows = 8192;
// Plans per row bucket and shape (a model has 4-5 shapes); past this many, start over
// rather than grow.
constexpr size_t kMaxPlans = 512;

template <typename T>
constexpr cudaDataType_t DataType() {
  return std::is_same<T, __half>::value ? CUDA_R_16F : CUDA_R_16BF;
}

// The largest power of two up to 256 that divides the address.
uint32_t Alignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align != 0) align /= 2;
  return align;
}

// The rows a plan is found for. Batches come in every size (a query's documents are as long
// as they are), and a plan per exact size would query the heuristic, and load the kernels it
// picks, on the first batch of each size: on the first device run that took reranking 100
// passages from 3.25 ms (shapes seen before) to 8.55 ms p50 (new ones). So plans are found
// for a bucket of sizes, a quarter of an octave wide (64-row steps up to 256), and run with
// the batch's own rows, which the algorithm takes like any other size.
int PlanRows(int m) {
  if (m <= 256) return (m + 63) / 64 * 64;
  int top = 256;
  while (top <= m / 2) top *= 2;  // the largest power of two <= m
  const int step = top / 4;
  return (m + step - 1) / step * step;
}

}  // namespace

bool CublasLtRequested() {
  const char* v = std::getenv("CROSSRANK_CUDA_GEMM");
  return v && std::strcmp(v, "cublaslt") == 0;
}

namespace {
// Unset or `auto`: the default engine for each model; anything else names one.
bool DefaultEngineRequested() {
  const char* v = std::getenv("CROSSRANK_CUDA_GEMM");
  return !v || !*v || std::strcmp(v, "auto") == 0;
}
}  // namespace

LinearLibrary::~LinearLibrary() {
  for (auto& entry : plans_) Release(&entry.second);
  if (handle_) api_->Destroy(handle_);
  if (workspace_) cudaFree(workspace_);
}

bool TanhGeluRequested() {
  const char* v = std::getenv("CROSSRANK_CUDA_GELU");
  return v && std::strcmp(v, "tanh") == 0;
}

cudaError_t LinearLibrary::Init(LibraryUse use, bool batch_invariant) {
  if (api_) return cudaSuccess;
  batch_invariant_ = batch_invariant;
  tanh_gelu_ = TanhGeluRequested();
  const bool required = CublasLtRequested();
  if (!required && !(use == LibraryUse::kWhereItOpens && DefaultEngineRequested())) return cudaSuccess;
  std::string why;
  const lt::Api* api = lt::OpenCublasLt(&why);
  if (!api) {
    if (!required) return unavailable_ = why, cudaSuccess;
    error_ = "CROSSRANK_CUDA_GEMM=cublaslt: " + why;
    return cudaErrorNotSupported;
  }
  lt::Status s = api->Create(&handle_);
  if (s != lt::kSuccess) {
    handle_ = nullptr;
    error_ = "cublasLtCreate: " + lt::StatusText(*api, s);
    // Out of memory is the model's problem either way; anything else only where it was asked for.
    if (!required && s != lt::kAllocFailed) return unavailable_ = error_, error_.clear(), cudaSuccess;
    return s == lt::kAllocFailed ? cudaErrorMemoryAllocation : cudaErrorNotSupported;
  }
  cudaError_t e = cudaMalloc(&workspace_, kWorkspaceBytes);
  if (e != cudaSuccess) {
    workspace_ = nullptr;
    api->Destroy(handle_);
    handle_ = nullptr;
    error_ = "cuBLASLt workspace";
    return e;
  }
  workspace_bytes_ = kWorkspaceBytes;
  api_ = api;
  return cudaSuccess;
}

const char* LinearLibrary::Describe(const char* step) {
  if (error_.empty()) return step;
  described_ = std::string(step) + " (" + error_ + ")";
  return described_.c_str();
}

cudaError_t LinearLibrary::Fail(lt::Status status, const char* step) {
  error_ = std::string(step) + ": " + lt::StatusText(*api_, status);
  return status == lt::kAllocFailed ? cudaErrorMemoryAllocation : cudaErrorUnknown;
}

void LinearLibrary::Release(Plan* p) {
  if (p->desc) api_->MatmulDescDestroy(p->desc);
  for (lt::MatrixLayout l : {p->a, p->b, p->d}) {
    if (l) api_->MatrixLayoutDestroy(l);
  }
  *p = Plan{};
}

cudaError_t LinearLibrary::MakePlan(const Key& key, Plan* p) {
  [[maybe_unused]] const auto [m, n, k, type, epilogue, align_w, align_x, align_y, exact] = key;
  const auto dtype = static_cast<cudaDataType_t>(type);
  lt::Status s;
  if ((s = api_->MatmulDescCreate(&p->desc, lt::kCompute32F, CUDA_R_32F)) != lt::kSuccess) {
    return Fail(s, "cublasLtMatmulDescCreate");
  }
  const int32_t trans_w = lt::kOpT, trans_x = lt::kOpN;
  // The bias is in D's type, the documented default for 16-bit outputs (so the type is left
  // unset, as PyTorch leaves it).
  if ((s = api_->MatmulDescSetAttribute(p->desc, lt::kDescTransA, &trans_w, sizeof trans_w)) != lt::kSuccess ||
      (s = api_->MatmulDescSetAttribute(p->desc, lt::kDescTransB, &trans_x, sizeof trans_x)) != lt::kSuccess ||
      (s = api_->MatmulDescSetAttribute(p->desc, lt::kDescEpilogue, &epilogue, sizeof epilogue)) != lt::kSuccess) {
    return Fail(s, "cublasLtMatmulDescSetAttribute");
  }
  // Column-major views of the row-major buffers: W [n x k] is k x n (ld k), X [m x k] is
  // k x m (ld k), Y [m x n] is n x m (ld n).
  if ((s = api_->MatrixLayoutCreate(&p->a, dtype, k, n, k)) != lt::kSuccess ||
      (s = api_->MatrixLayoutCreate(&p->b, dtype, k, m, k)) != lt::kSuccess ||
      (s = api_->MatrixLayoutCreate(&p->d, dtype, n, m, n)) != lt::kSuccess) {
    return Fail(s, "cublasLtMatrixLayoutCreate");
  }
  lt::Preference pref = nullptr;
  if ((s = api_->MatmulPreferenceCreate(&pref)) != lt::kSuccess) return Fail(s, "cublasLtMatmulPreferenceCreate");
  const uint64_t max_workspace = workspace_bytes_;
  lt::HeuristicResult result{};
  int found = 0;
  s = api_->MatmulPreferenceSetAttribute(pref, lt::kPrefMaxWorkspaceBytes, &max_workspace, sizeof max_workspace);
  const std::pair<int, uint32_t> alignments[] = {{lt::kPrefMinAlignmentA, align_w},
                                                 {lt::kPrefMinAlignmentB, align_x},
                                                 {lt::kPrefMinAlignmentC, align_y},
                                                 {lt::kPrefMinAlignmentD, align_y}};
  for (const auto& [attribute, bytes] : alignments) {
    if (s == lt::kSuccess) s = api_->MatmulPreferenceSetAttribute(pref, attribute, &bytes, sizeof bytes);
  }
  // No split-K: a split sums each output's K in parts whose number follows the shape, so the
  // same row would round differently in another batch.
  const uint32_t no_split = 0;
  if (s == lt::kSuccess && batch_invariant_) {
    s = api_->MatmulPreferenceSetAttribute(pref, lt::kPrefReductionSchemeMask, &no_split, sizeof no_split);
  }
  if (s == lt::kSuccess) {
    s = api_->MatmulAlgoGetHeuristic(handle_, p->desc, p->a, p->b, p->d, p->d, pref, 1, &result, &found);
  }
  api_->MatmulPreferenceDestroy(pref);
  if (s != lt::kSuccess) return Fail(s, "cublasLtMatmulAlgoGetHeuristic");
  if (found < 1) {
    error_ = "cuBLASLt has no algorithm for " + std::to_string(m) + " x " + std::to_string(n) + " x " +
             std::to_string(k);
    return cudaErrorNotSupported;
  }
  p->algo = result.algo;
  p->rows = m;
  return cudaSuccess;
}

cudaError_t LinearLibrary::SetRows(const Key& key, Plan* p, int m) {
  if (p->rows == m) return cudaSuccess;
  const int n = std::get<1>(key), k = std::get<2>(key);
  const auto dtype = static_cast<cudaDataType_t>(std::get<3>(key));
  for (lt::MatrixLayout* l : {&p->b, &p->d}) {
    if (*l) api_->MatrixLayoutDestroy(*l);
    *l = nullptr;
  }
  p->rows = 0;
  lt::Status s;
  if ((s = api_->MatrixLayoutCreate(&p->b, dtype, k, m, k)) != lt::kSuccess ||
      (s = api_->MatrixLayoutCreate(&p->d, dtype, n, m, n)) != lt::kSuccess) {
    return Fail(s, "cublasLtMatrixLayoutCreate");
  }
  p->rows = m;
  return cudaSuccess;
}

cudaError_t LinearLibrary::FindPlan(const Key& key, int m, Plan** plan) {
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    if (plans_.size() >= kMaxPlans) {
      for (auto& entry : plans_) Release(&entry.second);
      plans_.clear();
    }
    Plan made;
    cudaError_t e = MakePlan(key, &made);
    if (e != cudaSuccess) {
      Release(&made);
      return e;
    }
    it = plans_.emplace(key, made).first;
  }
  *plan = &it->second;
  return SetRows(key, *plan, m);
}

template <typename T>
cudaError_t LinearLibrary::Matmul(const T* x, const T* w, const T* bias, T* y, int m, int n, int k,
                                  cudaStream_t stream, bool tanh_gelu) {
  error_.clear();
  if (!api_) {
    error_ = "cuBLASLt is not open";
    return cudaErrorNotSupported;
  }
  if (m == 0 || n == 0) return cudaSuccess;
  const int type = static_cast<int>(DataType<T>());
  const uint32_t align_w = Alignment(w), align_x = Alignment(x), align_y = Alignment(y);
  const int rows = batch_invariant_ ? kInvariantRows : PlanRows(m);
  if (tanh_gelu && !bias) {
    error_ = "the GELU epilogue is only used with a bias";
    return cudaErrorInvalidValue;
  }
  const uint32_t epilogue = tanh_gelu ? lt::kEpilogueGeluBias : bias ? lt::kEpilogueBias : lt::kEpilogueDefault;
  const Key bucket{rows, n, k, type, epilogue, align_w, align_x, align_y, false};
  const Key exact{m, n, k, type, epilogue, align_w, align_x, align_y, true};
  // A size the bucket's algorithm turned down once goes straight to its own plan.
  const bool known_exact = plans_.count(exact) > 0;
  Plan* p = nullptr;
  cudaError_t e = FindPlan(known_exact ? exact : bucket, m, &p);
  if (e != cudaSuccess) return e;
  const float alpha = 1.0f, beta = 0.0f;
  const void* bias_pointer = bias;
  // The bias pointer is per call (layers of one shape share a plan), then the product.
  auto run = [&](Plan* plan, lt::Status* status) {
    if (bias && (*status = api_->MatmulDescSetAttribute(plan->desc, lt::kDescBiasPointer, &bias_pointer,
                                                        sizeof bias_pointer)) != lt::kSuccess) {
      return Fail(*status, "cublasLtMatmulDescSetAttribute (bias)");
    }
    *status = api_->Matmul(handle_, plan->desc, &alpha, w, plan->a, x, plan->b, &beta, y, plan->d, y, plan->d,
                           &plan->algo, workspace_, workspace_bytes_, stream);
    return cudaSuccess;
  };
  lt::Status s = lt::kSuccess;
  if ((e = run(p, &s)) != cudaSuccess) return e;
  // The library checks an algorithm against the problem before running it; one found for the
  // bucket that does not take these rows is answered with a plan for exactly them.
  if ((s == lt::kNotSupported || s == lt::kInvalidValue) && !known_exact) {
    if ((e = FindPlan(exact, m, &p)) != cudaSuccess || (e = run(p, &s)) != cudaSuccess) return e;
  }
  return s == lt::kSuccess ? cudaSuccess : Fail(s, "cublasLtMatmul");
}

template cudaError_t LinearLibrary::Matmul<__half>(const __half*, const __half*, const __half*, __half*, int, int, int,
                                                   cudaStream_t, bool);
template cudaError_t LinearLibrary::Matmul<__nv_bfloat16>(const __nv_bfloat16*, const __nv_bfloat16*,
                                                          const __nv_bfloat16*, __nv_bfloat16*, int, int, int,
                                                          cudaStream_t, bool);

}  // namespace crossrank::cuda
