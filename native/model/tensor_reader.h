// Reads named tensors out of a safetensors file or a sharded checkpoint with the shape a
// config implies, converting F32/F16/BF16 to fp32; every mismatch is a ModelLoad status
// naming the file and the tensor. Shared by the encoder and decoder weight loaders.
#pragma once

#include <string>
#include <vector>

#include "crossrank/encoder.h"
#include "crossrank/safetensors.h"
#include "crossrank/status.h"

namespace crossrank {

#define RETURN_IF_ERROR(expr)    \
  do {                           \
    Status _s = (expr);          \
    if (!_s.ok()) return _s;     \
  } while (0)

inline std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

class TensorReader {
 public:
  explicit TensorReader(const TensorSource& source) : source_(source) {}

  Status Tensor(const std::string& name, std::vector<int64_t> shape, std::vector<float>* out) {
    const TensorView* t = nullptr;
    RETURN_IF_ERROR(Check(name, shape, &t));
    size_t count = 1;
    for (int64_t d : shape) count *= static_cast<size_t>(d);
    out->resize(count);
    ToFloat32(*t, out->data());
    return Status::Ok();
  }

  // Rows `ids` of the [rows x cols] tensor `name`, concatenated as fp32: only those rows are
  // converted (an output layer's answer rows, without the whole vocabulary in fp32).
  Status Rows(const std::string& name, int64_t rows, int64_t cols, const std::vector<int32_t>& ids,
              std::vector<float>* out) {
    const TensorView* t = nullptr;
    RETURN_IF_ERROR(Check(name, {rows, cols}, &t));
    const size_t row_bytes = t->bytes / static_cast<size_t>(rows);
    out->resize(ids.size() * static_cast<size_t>(cols));
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= rows) return Status::ModelLoad(source_.FileOf(name) + ": row " + std::to_string(ids[i]) + " of " + name + " does not exist");
      TensorView row = *t;
      row.shape = {cols};
      row.data = t->data + static_cast<size_t>(ids[i]) * row_bytes;
      row.bytes = row_bytes;
      ToFloat32(row, out->data() + i * static_cast<size_t>(cols));
    }
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
  // The tensor exists, has `shape` and a floating-point dtype.
  Status Check(const std::string& name, const std::vector<int64_t>& shape, const TensorView** out) {
    const TensorView* t = source_.Find(name);
    if (!t) return Status::ModelLoad(source_.FileOf(name) + ": missing tensor " + name);
    if (t->shape != shape) {
      return Status::ModelLoad(source_.FileOf(name) + ": tensor " + name + " has shape " + ShapeText(t->shape) +
                               ", config.json implies " + ShapeText(shape));
    }
    if (t->dtype != DType::kF32 && t->dtype != DType::kF16 && t->dtype != DType::kBF16) {
      return Status::ModelLoad(source_.FileOf(name) + ": tensor " + name + " has dtype " + DTypeName(t->dtype) +
                               "; weights must be F32, F16 or BF16");
    }
    *out = t;
    return Status::Ok();
  }

  const TensorSource& source_;
};

}  // namespace crossrank
