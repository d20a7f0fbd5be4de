// libFuzzer target: the safetensors header parser and validator on arbitrary bytes, then
// every tensor it accepts converted to fp32 (which reads each byte the header points at).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "crossrank/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<crossrank::SafetensorsFile> file;
  if (!crossrank::SafetensorsFile::Parse(data, size, "fuzz", &file).ok()) return 0;
  for (const auto& [name, view] : file->tensors()) {
    if (view.dtype != crossrank::DType::kF32 && view.dtype != crossrank::DType::kF16 && view.dtype != crossrank::DType::kBF16) continue;
    size_t count = 1;
    for (int64_t d : view.shape) count *= static_cast<size_t>(d);
    std::vector<float> out(count);
    crossrank::ToFloat32(view, out.data());
  }
  return 0;
}
