#include "crossrank/status.h"

namespace crossrank {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "CROSSRANK_OK";
    case StatusCode::kInvalidArgument: return "CROSSRANK_INVALID_ARGUMENT";
    case StatusCode::kModelLoad: return "CROSSRANK_MODEL_LOAD";
    case StatusCode::kBackendUnavailable: return "CROSSRANK_BACKEND_UNAVAILABLE";
    case StatusCode::kOutOfMemory: return "CROSSRANK_OUT_OF_MEMORY";
    case StatusCode::kCuda: return "CROSSRANK_CUDA_ERROR";
    case StatusCode::kInternal: return "CROSSRANK_INTERNAL";
  }
  return "CROSSRANK_INTERNAL";
}

}  // namespace crossrank
