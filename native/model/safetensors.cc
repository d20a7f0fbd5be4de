#include "crossrank/safetensors.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "model/json.h"
#include "model/regular_file.h"

namespace crossrank {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit

struct DTypeInfo {
  const char* name;
  DType dtype;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {"F32", DType::kF32, 4}, {"F16", DType::kF16, 2}, {"BF16", DType::kBF16, 2}, {"F64", DType::kF64, 8},
    {"I64", DType::kI64, 8}, {"I32", DType::kI32, 4}, {"I16", DType::kI16, 2},   {"I8", DType::kI8, 1},
    {"U8", DType::kU8, 1},   {"BOOL", DType::kBool, 1},
};

bool IsNonNegativeInteger(const json::Value& v) {
  return v.kind == json::Value::Kind::kNumber && v.number >= 0 && v.number <= 9.007199254740992e15 &&
         std::floor(v.number) == v.number;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 1;
      while ((mant & 0x400) == 0) mant <<= 1, --exp;
      mant &= 0x3FF;
      bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

const char* DTypeName(DType d) {
  for (const auto& t : kDTypes) if (t.dtype == d) return t.name;
  return "?";
}

Status SafetensorsFile::Parse(const uint8_t* bytes, size_t size, const std::string& source,
                              std::unique_ptr<SafetensorsFile>* out) {
  if (size < 8) return Status::ModelLoad(source + ": file too short for a safetensors header");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return Status::ModelLoad(source + ": header length " + std::to_string(header_len) + " exceeds the file (" +
                             std::to_string(size) + " bytes) or the 100 MB limit");
  }
  json::Value root;
  std::string error;
  if (!json::Parse(reinterpret_cast<const char*>(bytes + 8), header_len, &root, &error)) {
    return Status::ModelLoad(source + ": header is not valid JSON (" + error + ")");
  }
  if (root.kind != json::Value::Kind::kObject) return Status::ModelLoad(source + ": header is not a JSON object");
  const uint8_t* data = bytes + 8 + header_len;
  const size_t data_size = size - 8 - header_len;

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->name_ = source.substr(source.find_last_of('/') + 1);
  std::vector<std::pair<std::pair<size_t, size_t>, std::string>> spans;
  for (const auto& [name, entry] : root.object) {
    if (name == "__metadata__") continue;
    const std::string what = source + ": tensor " + name;
    if (entry.kind != json::Value::Kind::kObject) return Status::ModelLoad(what + " is not an object");
    const json::Value* dtype = entry.Get("dtype");
    const json::Value* shape = entry.Get("shape");
    const json::Value* offsets = entry.Get("data_offsets");
    if (!dtype || dtype->kind != json::Value::Kind::kString) return Status::ModelLoad(what + " has no dtype");
    const DTypeInfo* info = nullptr;
    for (const auto& t : kDTypes) if (dtype->string == t.name) info = &t;
    if (!info) return Status::ModelLoad(what + " has unsupported dtype " + dtype->string);
    if (!shape || shape->kind != json::Value::Kind::kArray) return Status::ModelLoad(what + " has no shape");
    TensorView view{info->dtype, {}, nullptr, 0};
    // Element count with an overflow guard: no tensor can be larger than the file.
    double elements = 1;
    for (const json::Value& d : shape->array) {
      if (!IsNonNegativeInteger(d)) return Status::ModelLoad(what + " has an invalid shape");
      view.shape.push_back(static_cast<int64_t>(d.number));
      elements *= d.number;
    }
    if (!offsets || offsets->kind != json::Value::Kind::kArray || offsets->array.size() != 2 ||
        !IsNonNegativeInteger(offsets->array[0]) || !IsNonNegativeInteger(offsets->array[1])) {
      return Status::ModelLoad(what + " has invalid data_offsets");
    }
    const double begin = offsets->array[0].number, end = offsets->array[1].number;
    if (end < begin || end > static_cast<double>(data_size)) {
      return Status::ModelLoad(what + " has data offsets [" + std::to_string(static_cast<uint64_t>(begin)) + ", " +
                               std::to_string(static_cast<uint64_t>(end)) + "] outside the data (" +
                               std::to_string(data_size) + " bytes)");
    }
    const double needed = elements * info->size;
    if (needed != end - begin) {
      // The product of a hostile shape can be far beyond any integer type (found by fuzzing):
      // only convert what fits exactly in a double.
      const std::string needed_text = needed <= 9007199254740992.0 ? std::to_string(static_cast<uint64_t>(needed)) : "more than 2^53";
      return Status::ModelLoad(what + " holds " + std::to_string(static_cast<uint64_t>(end - begin)) +
                               " bytes, its dtype and shape need " + needed_text);
    }
    view.data = data + static_cast<size_t>(begin);
    view.bytes = static_cast<size_t>(end - begin);
    spans.push_back({{static_cast<size_t>(begin), static_cast<size_t>(end)}, name});
    file->tensors_.emplace(name, std::move(view));
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first.first < spans[i - 1].first.second) {
      return Status::ModelLoad(source + ": tensors " + spans[i - 1].second + " and " + spans[i].second + " overlap");
    }
  }
  *out = std::move(file);
  return Status::Ok();
}

Status SafetensorsFile::Open(const std::string& path, std::unique_ptr<SafetensorsFile>* out) {
  int fd = -1;
  size_t size = 0;
  if (Status opened = OpenRegularFile(path, &fd, &size); !opened.ok()) return opened;
  void* mapping = nullptr;
  if (size > 0) {
    mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return Status::ModelLoad("cannot map " + path + ": " + std::strerror(err));
    }
  }
  ::close(fd);
  Status status = Parse(static_cast<const uint8_t*>(mapping), size, path, out);
  if (!status.ok()) {
    if (mapping) munmap(mapping, size);
    return status;
  }
  (*out)->mapping_ = mapping;
  (*out)->mapping_size_ = size;
  return Status::Ok();
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) munmap(mapping_, mapping_size_);
}

const TensorView* SafetensorsFile::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void ToFloat32(const TensorView& t, float* out) {
  // A tensor with a zero dimension is legal and holds nothing; its destination is then often an
  // empty vector's data(), a null pointer, which memcpy may not be given even for zero bytes.
  if (t.bytes == 0) return;
  const size_t n = t.bytes / (t.dtype == DType::kF32 ? 4 : 2);
  if (t.dtype == DType::kF32) {
    std::memcpy(out, t.data, t.bytes);  // little-endian hosts only (as every supported platform)
  } else if (t.dtype == DType::kF16) {
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      out[i] = HalfToFloat(h);
    }
  } else {  // BF16
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      const uint32_t bits = static_cast<uint32_t>(h) << 16;
      std::memcpy(out + i, &bits, 4);
    }
  }
}

}  // namespace crossrank
