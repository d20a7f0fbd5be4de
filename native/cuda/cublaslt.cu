// Opens cuBLASLt with dlopen (see cublaslt.h).
#include "cuda/cublaslt.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace crossrank::cuda::lt {
namespace {

template <typename F>
bool Resolve(void* lib, const char* name, F* out, std::string* missing) {
  *out = reinterpret_cast<F>(dlsym(lib, name));
  if (!*out && missing->empty()) *missing = name;
  return *out != nullptr;
}

// Fills api from lib; false (and *why) when a symbol is missing.
bool ResolveAll(void* lib, Api* api, std::string* why) {
  std::string missing;
  Resolve(lib, "cublasLtGetVersion", &api->GetVersion, &missing);
  Resolve(lib, "cublasLtCreate", &api->Create, &missing);
  Resolve(lib, "cublasLtDestroy", &api->Destroy, &missing);
  Resolve(lib, "cublasLtMatmulDescCreate", &api->MatmulDescCreate, &missing);
  Resolve(lib, "cublasLtMatmulDescDestroy", &api->MatmulDescDestroy, &missing);
  Resolve(lib, "cublasLtMatmulDescSetAttribute", &api->MatmulDescSetAttribute, &missing);
  Resolve(lib, "cublasLtMatrixLayoutCreate", &api->MatrixLayoutCreate, &missing);
  Resolve(lib, "cublasLtMatrixLayoutDestroy", &api->MatrixLayoutDestroy, &missing);
  Resolve(lib, "cublasLtMatmulPreferenceCreate", &api->MatmulPreferenceCreate, &missing);
  Resolve(lib, "cublasLtMatmulPreferenceDestroy", &api->MatmulPreferenceDestroy, &missing);
  Resolve(lib, "cublasLtMatmulPreferenceSetAttribute", &api->MatmulPreferenceSetAttribute, &missing);
  Resolve(lib, "cublasLtMatmulAlgoGetHeuristic", &api->MatmulAlgoGetHeuristic, &missing);
  Resolve(lib, "cublasLtMatmul", &api->Matmul, &missing);
  if (!missing.empty()) {
    *why = "symbol " + missing + " not found";
    return false;
  }
  std::string optional;
  Resolve(lib, "cublasLtGetStatusName", &api->StatusName, &optional);
  api->version = api->GetVersion();
  return true;
}

struct Opened {
  Api api{};
  bool ok = false;
  std::string why;
};

Opened Open() {
  Opened r;
  const char* env = std::getenv("CROSSRANK_CUBLASLT");
  std::string tried;
  const char* candidates[] = {"libcublasLt.so.13", "libcublasLt.so.12"};
  auto try_open = [&](const char* name) -> bool {
    void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* err = dlerror();
      tried += tried.empty() ? "" : "; ";
      tried += err ? err : name;
      return false;
    }
    std::string why;
    if (!ResolveAll(lib, &r.api, &why)) {
      tried += tried.empty() ? "" : "; ";
      tried += std::string(name) + ": " + why;
      dlclose(lib);
      return false;
    }
    r.api.path = name;
    return true;
  };
  if (env && std::strcmp(env, "off") == 0) {
    r.why = "cuBLASLt is off (CROSSRANK_CUBLASLT=off)";
    return r;
  }
  if (env && *env) {
    r.ok = try_open(env);
  } else {
    for (const char* name : candidates) {
      if ((r.ok = try_open(name))) break;
    }
  }
  if (!r.ok) r.why = "cuBLASLt could not be opened (" + tried + ")";
  return r;
}

}  // namespace

const Api* OpenCublasLt(std::string* why) {
  static std::once_flag once;
  static Opened opened;
  std::call_once(once, [] { opened = Open(); });
  if (!opened.ok) {
    if (why) *why = opened.why;
    return nullptr;
  }
  return &opened.api;
}

std::string StatusText(const Api& api, Status status) {
  const char* name = api.StatusName ? api.StatusName(status) : nullptr;
  return name ? std::string(name) : "cuBLASLt status " + std::to_string(status);
}

}  // namespace crossrank::cuda::lt
