// Where a model's weights come from: one safetensors file, or a checkpoint sharded over
// several with a `model.safetensors.index.json` (as Hugging Face saves models past a few
// GB: Qwen3-Reranker-4B/8B). Each file is memory-mapped and validated before any tensor is
// read: header length within the file and under 100 MB, a JSON object of tensors with a
// known dtype, a non-negative shape, data offsets inside the data area matching
// dtype x shape, and no two tensors overlapping. Every problem is a kModelLoad status
// naming the file and the tensor.
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

// Named tensors, wherever they are stored: what the weight loaders read.
class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual const TensorView* Find(const std::string& name) const = 0;
  // The file that holds `name`, or would: what an error about the tensor names.
  virtual std::string FileOf(const std::string& name) const = 0;
};

class SafetensorsFile : public TensorSource {
 public:
  static Status Open(const std::string& path, std::unique_ptr<SafetensorsFile>* out);
  // Parses and validates a header held in memory (the mapping or a test buffer); `source`
  // names it in errors.
  static Status Parse(const uint8_t* bytes, size_t size, const std::string& source, std::unique_ptr<SafetensorsFile>* out);
  ~SafetensorsFile() override;

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* Find(const std::string& name) const override;
  std::string FileOf(const std::string&) const override { return name_; }

 private:
  SafetensorsFile() = default;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  std::string name_;  // the file name without its directory
  std::map<std::string, TensorView> tensors_;
};

// A checkpoint sharded over several safetensors files by an index: {"weight_map": {tensor:
// shard file}} (other keys, such as "metadata", are ignored). Shards are plain file names
// ending in .safetensors, in the index's directory; every shard is opened and validated, and
// every tensor the index maps must be in the shard it names. Tensors a shard holds that the
// index does not map are not read (as transformers does).
class ShardedSafetensors : public TensorSource {
 public:
  static Status Open(const std::string& index_path, std::unique_ptr<ShardedSafetensors>* out);
  // Validates an index held in memory: the (tensor, shard) pairs in the index's order.
  static Status ParseIndex(const char* text, size_t size, const std::string& source,
                           std::vector<std::pair<std::string, std::string>>* weight_map);

  const TensorView* Find(const std::string& name) const override;
  std::string FileOf(const std::string& name) const override;
  size_t shard_count() const { return shards_.size(); }

 private:
  ShardedSafetensors() = default;
  std::string index_name_;
  std::map<std::string, std::unique_ptr<SafetensorsFile>> shards_;  // by file name
  std::map<std::string, std::pair<const TensorView*, std::string>> tensors_;  // view, shard name
};

// `path` is a safetensors file, or an index ending in ".index.json".
Status OpenTensorSource(const std::string& path, std::unique_ptr<TensorSource>* out);

// A model directory's weights: dir/model.safetensors where it exists, else the sharded
// checkpoint's dir/model.safetensors.index.json (whose absence the open then reports).
std::string WeightsPathIn(const std::string& dir);

// Copies a floating tensor (F32, F16, BF16) into fp32.
void ToFloat32(const TensorView& t, float* out);

const char* DTypeName(DType d);

}  // namespace crossrank
