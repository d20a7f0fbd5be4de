// Reads named tensors out of a safetensors file with the shape a config implies, converting
// F32/F16/BF16 to fp32; every mismatch is a ModelLoad status naming the tensor. Shared by the
// encoder and decoder weight loaders.
#pragma once

#include <string>
#include <vector>

#include "crossrank/encoder.h"
#include "crossrank/safetensors.h"
#include "crossrank/status.h"

namespace crossrank {

inline std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

class TensorReader {
 public:
  explicit TensorReader(const SafetensorsFile& file) : file_(file) {}

  Status Tensor(const std::string& name, std::vector<int64_t> shape, std::vector<float>* out) {
    const TensorView* t = file_.Find(name);
    if (!t) return Status::ModelLoad("model.safetensors: missing tensor " + name);
    if (t->shape != shape) {
      return Status::ModelLoad("model.safetensors: tensor " + name + " has shape " + ShapeText(t->shape) +
                               ", config.json implies " + ShapeText(shape));
    }
    if (t->dtype != DType::kF32 && t->dtype != DType::kF16 && t->dtype != DType::kBF16) {
      return Status::ModelLoad("model.safetensors: tensor " + name + " has dtype " + DTypeName(t->dtype) +
                               "; weights must be F32, F16 or BF16");
    }
    size_t count = 1;
    for (int64_t d : shape) count *= static_cast<size_t>(d);
    out->resize(count);
    ToFloat32(*t, out->data());
    return Status::Ok();
  }

  Status LinearLayer(const std::string& name, int32_t out_dim, int32_t in_dim, Linear* out) {
    out->out = out_dim;
    out->in = in_dim;
    Status s = Tensor(name + ".weight", {out_dim, in_dim}, &out->weight);
    return s.ok() ? Tensor(name + ".bias", {out_dim}, &out->bias) : s;
  }

  Status Norm(const std::string& name, int32_t dim, LayerNormParams* out) {
    Status s = Tensor(name + ".weight", {dim}, &out->gamma);
    return s.ok() ? Tensor(name + ".bias", {dim}, &out->beta) : s;
  }

 private:
  const SafetensorsFile& file_;
};

#define RETURN_IF_ERROR(expr)    \
  do {                           \
    Status _s = (expr);          \
    if (!_s.ok()) return _s;     \
  } while (0)


}  // namespace crossrank
