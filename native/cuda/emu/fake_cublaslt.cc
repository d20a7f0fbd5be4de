// A stand-in for libcublasLt on the CPU, for the CUDA emulation (a test tool, not shipped):
// the part of cuBLASLt's C API the linear layers call, written from its documentation, so
// that the cuBLASLt path (native/cuda/kernels/linear_library.cu) runs in CI without a GPU:
// layouts, transposes, leading dimensions, the bias and GELU epilogues, plan caching and error paths.
// Like the real library it rejects what its documentation rejects (shapes that do not
// multiply, unknown attributes and types) with a status instead of computing something.
// Buffers are host memory, as every "device" buffer of the emulation is; calls complete at
// once, as emulated kernels do. What it cannot show is how the real library behaves on a
// card: that is the device check's job (scripts/device/gpu-check.sh).
//
// Two switches for tests: CROSSRANK_FAKE_CUBLASLT_TRACE=<file> appends a line per heuristic
// query and per matmul ("heuristic|matmul <rows> <cols> <inner>" of D = op(A) op(B)), so a
// test can see which engine ran and how often plans were found (a matmul's line ends with its
// epilogue's number); CROSSRANK_FAKE_CUBLASLT_EXACT=1
// makes an algorithm take only the problem size it was found for (the real library may turn
// an algorithm down for a size, and the caller must cope).
//
// Semantics (cuBLASLt, column-major): D = alpha * op(A) op(B) + beta * C, then the epilogue;
// op(X) = X or X^T by TRANSA / TRANSB; a matrix of `rows` x `cols` with leading dimension ld
// holds element (r, c) at r + c * ld; BIAS adds bias[r] to every column of row r of D, and
// GELU_BIAS then applies GELU in the tanh approximation the documentation gives.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

enum : int { kSuccess = 0, kNotInitialized = 1, kInvalidValue = 7, kNotSupported = 15 };
enum : int { kR32F = 0, kR16F = 2, kR16BF = 14 };  // cudaDataType_t

struct Handle {
  int magic = 0x1a7;
};
struct Desc {
  int compute = 0, scale = 0;
  int32_t trans_a = 0, trans_b = 0;
  uint32_t epilogue = 1;  // DEFAULT
  const void* bias = nullptr;
  int32_t bias_type = -1;  // -1: D's type
};
struct Layout {
  int type = 0;
  uint64_t rows = 0, cols = 0;
  int64_t ld = 0;
};
struct Preference {
  uint64_t max_workspace = 0;
  uint32_t min_alignment[4] = {256, 256, 256, 256};  // A, B, C, D: the documented default
};
struct Algo {
  uint64_t data[8];  // [0]: a tag; [1..4]: the alignments (A, B, C, D) it was chosen for; [5]: D's columns
};
struct HeuristicResult {
  Algo algo;
  size_t workspace_size;
  int state;
  float waves_count;
  int reserved[4];
};

float HalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) v = std::ldexp(float(mant), -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = std::ldexp(float(mant | 0x400), int(exp) - 25);
  return sign ? -v : v;
}

uint16_t FloatToHalf(float f) {  // round to nearest even
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const float a = std::fabs(f);
  if (std::isnan(f)) return sign | 0x7e00;
  if (a >= 65520.0f) return sign | 0x7c00;
  if (a < std::ldexp(1.0f, -14)) {  // subnormal: multiples of 2^-24
    return sign | uint16_t(std::nearbyint(a * std::ldexp(1.0f, 24)));
  }
  int e;
  const float m = std::frexp(a, &e);                                   // a = m 2^e, m in [0.5, 1)
  uint32_t mant = uint32_t(std::nearbyint(std::ldexp(m, 11)));         // 11 significant bits
  if (mant == 2048) mant = 1024, ++e;
  if (e + 14 >= 31) return sign | 0x7c00;
  return sign | uint16_t(uint32_t(e + 14) << 10) | uint16_t(mant & 0x3ff);
}

float Bf16ToFloat(uint16_t b) {
  const uint32_t x = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

uint16_t FloatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if (std::isnan(f)) return uint16_t((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return uint16_t(x >> 16);
}

void Trace(const char* what, const Layout* dl, uint64_t inner, uint32_t epilogue) {
  const char* path = std::getenv("CROSSRANK_FAKE_CUBLASLT_TRACE");
  if (!path || !*path) return;
  if (FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "%s %llu %llu %llu %u\n", what, static_cast<unsigned long long>(dl->rows),
                 static_cast<unsigned long long>(dl->cols), static_cast<unsigned long long>(inner), epilogue);
    std::fclose(f);
  }
}

float TanhGelu(float x) { return 0.5f * x * (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x))); }
bool HasBias(uint32_t epilogue) { return epilogue == 4 || epilogue == 36; }

bool ExactSizesOnly() {
  const char* v = std::getenv("CROSSRANK_FAKE_CUBLASLT_EXACT");
  return v && std::strcmp(v, "1") == 0;
}

bool KnownType(int t) { return t == kR32F || t == kR16F || t == kR16BF; }

float Load(const void* p, int type, size_t i) {
  switch (type) {
    case kR16F: return HalfToFloat(static_cast<const uint16_t*>(p)[i]);
    case kR16BF: return Bf16ToFloat(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

void Store(void* p, int type, size_t i, float v) {
  switch (type) {
    case kR16F: static_cast<uint16_t*>(p)[i] = FloatToHalf(v); break;
    case kR16BF: static_cast<uint16_t*>(p)[i] = FloatToBf16(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
}

// op(X)'s shape from X's layout.
void OpShape(const Layout& l, int32_t trans, uint64_t* rows, uint64_t* cols) {
  *rows = trans ? l.cols : l.rows;
  *cols = trans ? l.rows : l.cols;
}

bool ValidLayout(const Layout* l) { return l && l->ld >= int64_t(l->rows) && l->rows > 0 && l->cols > 0; }

int Check(const Desc* d, const Layout* a, const Layout* b, const Layout* c, const Layout* dl) {
  if (!d || !ValidLayout(a) || !ValidLayout(b) || !ValidLayout(c) || !ValidLayout(dl)) return kInvalidValue;
  if (d->compute != 68 || d->scale != kR32F) return kNotSupported;  // CUBLAS_COMPUTE_32F, float scale only here
  if (a->type != b->type || c->type != dl->type || !KnownType(a->type) || !KnownType(dl->type)) return kNotSupported;
  uint64_t ar, ac, br, bc;
  OpShape(*a, d->trans_a, &ar, &ac);
  OpShape(*b, d->trans_b, &br, &bc);
  if (ac != br || ar != dl->rows || bc != dl->cols || c->rows != dl->rows || c->cols != dl->cols) return kInvalidValue;
  if (d->epilogue != 1 && d->epilogue != 4 && d->epilogue != 36) return kNotSupported;  // DEFAULT, BIAS, GELU_BIAS
  return kSuccess;
}

}  // namespace

FAKE_EXPORT size_t cublasLtGetVersion() { return 990000; }  // 99.0.0: no real release
FAKE_EXPORT const char* cublasLtGetStatusName(int status) {
  switch (status) {
    case kSuccess: return "CUBLAS_STATUS_SUCCESS";
    case kNotInitialized: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case kInvalidValue: return "CUBLAS_STATUS_INVALID_VALUE";
    case kNotSupported: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

FAKE_EXPORT int cublasLtCreate(Handle** h) {
  if (!h) return kInvalidValue;
  *h = new (std::nothrow) Handle;
  return *h ? kSuccess : 3;
}
FAKE_EXPORT int cublasLtDestroy(Handle* h) {
  delete h;
  return kSuccess;
}

FAKE_EXPORT int cublasLtMatmulDescCreate(Desc** d, int compute, int scale) {
  if (!d) return kInvalidValue;
  *d = new Desc;
  (*d)->compute = compute;
  (*d)->scale = scale;
  return kSuccess;
}
FAKE_EXPORT int cublasLtMatmulDescDestroy(Desc* d) {
  delete d;
  return kSuccess;
}
FAKE_EXPORT int cublasLtMatmulDescSetAttribute(Desc* d, int attr, const void* buf, size_t size) {
  if (!d || !buf) return kInvalidValue;
  auto get = [&](auto* out) -> int {
    if (size != sizeof(*out)) return kInvalidValue;
    std::memcpy(out, buf, size);
    return kSuccess;
  };
  switch (attr) {
    case 3: return get(&d->trans_a);
    case 4: return get(&d->trans_b);
    case 7: return get(&d->epilogue);
    case 8: return get(&d->bias);
    case 26: return get(&d->bias_type);
    default: return kNotSupported;  // nothing else is used; a stray attribute is a bug to report
  }
}

FAKE_EXPORT int cublasLtMatrixLayoutCreate(Layout** l, int type, uint64_t rows, uint64_t cols, int64_t ld) {
  if (!l) return kInvalidValue;
  *l = new Layout{type, rows, cols, ld};
  return kSuccess;
}
FAKE_EXPORT int cublasLtMatrixLayoutDestroy(Layout* l) {
  delete l;
  return kSuccess;
}

FAKE_EXPORT int cublasLtMatmulPreferenceCreate(Preference** p) {
  if (!p) return kInvalidValue;
  *p = new Preference;
  return kSuccess;
}
FAKE_EXPORT int cublasLtMatmulPreferenceDestroy(Preference* p) {
  delete p;
  return kSuccess;
}
FAKE_EXPORT int cublasLtMatmulPreferenceSetAttribute(Preference* p, int attr, const void* buf, size_t size) {
  if (!p || !buf) return kInvalidValue;
  if (attr == 1 && size == sizeof(uint64_t)) {
    std::memcpy(&p->max_workspace, buf, size);
    return kSuccess;
  }
  if (attr == 3 && size == sizeof(uint32_t)) return kSuccess;  // REDUCTION_SCHEME_MASK: this one never splits K
  if (attr >= 5 && attr <= 8 && size == sizeof(uint32_t)) {
    std::memcpy(&p->min_alignment[attr - 5], buf, size);
    return kSuccess;
  }
  return kNotSupported;
}

FAKE_EXPORT int cublasLtMatmulAlgoGetHeuristic(Handle* h, Desc* d, Layout* a, Layout* b, Layout* c, Layout* dl,
                                               Preference* pref, int requested, HeuristicResult* results,
                                               int* returned) {
  if (!h || !pref || requested < 1 || !results || !returned) return kInvalidValue;
  *returned = 0;
  const int s = Check(d, a, b, c, dl);
  if (s != kSuccess) return s;
  std::memset(&results[0], 0, sizeof results[0]);
  results[0].algo.data[0] = 0xa160;  // what Matmul expects back
  // As the real heuristic may: an algorithm that relies on the alignments it was promised.
  for (int i = 0; i < 4; ++i) results[0].algo.data[1 + i] = pref->min_alignment[i];
  results[0].algo.data[5] = dl->cols;
  uint64_t rows, inner;
  OpShape(*a, d->trans_a, &rows, &inner);
  Trace("heuristic", dl, inner, d->epilogue);
  results[0].workspace_size = pref->max_workspace > 0 ? 1024 : 0;  // uses some workspace when it may
  results[0].waves_count = 1.0f;
  *returned = 1;
  return kSuccess;
}

FAKE_EXPORT int cublasLtMatmul(Handle* h, Desc* d, const void* alpha, const void* A, Layout* a, const void* B,
                               Layout* b, const void* beta, const void* C, Layout* c, void* D, Layout* dl,
                               const Algo* algo, void* workspace, size_t workspace_bytes, void* /*stream*/) {
  if (!h || !alpha || !beta || !A || !B || !D) return kInvalidValue;
  int s = Check(d, a, b, c, dl);
  if (s != kSuccess) return s;
  if (algo && algo->data[0] != 0xa160) return kInvalidValue;
  if (algo) {  // a pointer less aligned than the algorithm was chosen for
    const void* pointers[4] = {A, B, C ? C : D, D};
    for (int i = 0; i < 4; ++i) {
      if (reinterpret_cast<uintptr_t>(pointers[i]) % algo->data[1 + i] != 0) return kInvalidValue;
    }
  }
  if (algo && ExactSizesOnly() && algo->data[5] != dl->cols) return kNotSupported;
  if (algo && workspace_bytes > 0 && !workspace) return kInvalidValue;
  if (HasBias(d->epilogue) && !d->bias) return kInvalidValue;
  const int bias_type = d->bias_type < 0 ? dl->type : d->bias_type;
  if (HasBias(d->epilogue) && !KnownType(bias_type)) return kNotSupported;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  if (be != 0.0f && !C) return kInvalidValue;
  uint64_t rows, inner, cols, unused;
  OpShape(*a, d->trans_a, &rows, &inner);
  OpShape(*b, d->trans_b, &unused, &cols);
  Trace("matmul", dl, inner, d->epilogue);
  // op(A) as rows of `inner` and op(B) as columns of `inner`, in fp32: each output is then one
  // contiguous dot product. Element (r, i) of op(A) is A(i, r) when transposed.
  std::vector<float> ar(rows * inner), bc(cols * inner);
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t i = 0; i < inner; ++i) {
      ar[r * inner + i] = d->trans_a ? Load(A, a->type, i + r * a->ld) : Load(A, a->type, r + i * a->ld);
    }
  }
  for (uint64_t col = 0; col < cols; ++col) {
    for (uint64_t i = 0; i < inner; ++i) {
      bc[col * inner + i] = d->trans_b ? Load(B, b->type, col + i * b->ld) : Load(B, b->type, i + col * b->ld);
    }
  }
  for (uint64_t col = 0; col < cols; ++col) {
    for (uint64_t r = 0; r < rows; ++r) {
      const float* x = &ar[r * inner];
      const float* y = &bc[col * inner];
      float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // fp32 accumulation, as CUBLAS_COMPUTE_32F
      uint64_t i = 0;
      for (; i + 8 <= inner; i += 8) {
        for (int l = 0; l < 8; ++l) lanes[l] += x[i + l] * y[i + l];
      }
      for (; i < inner; ++i) lanes[0] += x[i] * y[i];
      float v = al * (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])));
      if (be != 0.0f) v += be * Load(C, c->type, r + col * c->ld);
      if (HasBias(d->epilogue)) v += Load(d->bias, bias_type, r);
      if (d->epilogue == 36) v = TanhGelu(v);
      Store(D, dl->type, r + col * dl->ld, v);
    }
  }
  return kSuccess;
}
