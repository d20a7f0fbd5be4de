// A safetensors file, memory-mapped and validated before any tensor is read:
// header length within the file and under 100 MB, a JSON object of tensors with a known
// dtype, a non-negative shape, data offsets inside the data area matching dtype x shape,
// and no two tensors overlapping. Every problem is a kModelLoad status naming the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crossrank/status.h"

namespace crossrank {

enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

struct TensorView {
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data;  // into the mapping
  size_t bytes;
};

class SafetensorsFile {
 public:
  static Status Open(const std::string& path, std::unique_ptr<SafetensorsFile>* out);
  // Parses and validates a header held in memory (the mapping or a test buffer).
  static Status Parse(const uint8_t* bytes, size_t size, const std::string& source, std::unique_ptr<SafetensorsFile>* out);
  ~SafetensorsFile();

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* Find(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  std::map<std::string, TensorView> tensors_;
};

// Copies a floating tensor (F32, F16, BF16) into fp32.
void ToFloat32(const TensorView& t, float* out);

const char* DTypeName(DType d);

}  // namespace crossrank
