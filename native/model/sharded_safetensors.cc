// A checkpoint sharded over several safetensors files (model.safetensors.index.json), and
// the one entry point the weight loaders open: a single file or an index.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crossrank/safetensors.h"
#include "model/json.h"
#include "model/regular_file.h"

namespace crossrank {
namespace {

constexpr size_t kMaxIndexBytes = 100'000'000;  // as a safetensors header

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A shard is a file beside the index: no directories, nothing hidden, nothing but a
// .safetensors file (an index that points elsewhere is refused rather than followed).
bool IsShardName(const std::string& name) {
  return name.size() > std::strlen(".safetensors") && EndsWith(name, ".safetensors") && name[0] != '.' &&
         name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

Status ReadSmallFile(const std::string& path, size_t limit, std::string* out) {
  int fd = -1;
  size_t size = 0;
  if (Status opened = OpenRegularFile(path, &fd, &size); !opened.ok()) return opened;
  if (size > limit) {
    ::close(fd);
    return Status::ModelLoad(path + " is " + std::to_string(size) + " bytes, past the " + std::to_string(limit) +
                             "-byte limit for an index");
  }
  out->resize(size);
  size_t done = 0;
  while (done < out->size()) {
    const ssize_t n = ::read(fd, &(*out)[done], out->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = n < 0 ? std::strerror(errno) : "file shrank while read";
      ::close(fd);
      return Status::ModelLoad("cannot read " + path + ": " + reason);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace

Status ShardedSafetensors::ParseIndex(const char* text, size_t size, const std::string& source,
                                      std::vector<std::pair<std::string, std::string>>* weight_map) {
  json::Value root;
  std::string error;
  if (!json::Parse(text, size, &root, &error)) return Status::ModelLoad(source + " is not valid JSON (" + error + ")");
  if (root.kind != json::Value::Kind::kObject) return Status::ModelLoad(source + " is not a JSON object");
  const json::Value* map = root.Get("weight_map");
  if (!map || map->kind != json::Value::Kind::kObject) {
    return Status::ModelLoad(source + " has no \"weight_map\" object (tensor name -> shard file)");
  }
  if (map->object.empty()) return Status::ModelLoad(source + ": \"weight_map\" is empty");
  weight_map->clear();
  for (const auto& [tensor, shard] : map->object) {
    if (shard.kind != json::Value::Kind::kString) {
      return Status::ModelLoad(source + ": the shard of tensor " + tensor + " is not a file name");
    }
    if (!IsShardName(shard.string)) {
      return Status::ModelLoad(source + ": tensor " + tensor + " is mapped to \"" + shard.string +
                               "\", not a .safetensors file beside the index");
    }
    weight_map->emplace_back(tensor, shard.string);
  }
  return Status::Ok();
}

Status ShardedSafetensors::Open(const std::string& index_path, std::unique_ptr<ShardedSafetensors>* out) {
  std::string text;
  if (Status s = ReadSmallFile(index_path, kMaxIndexBytes, &text); !s.ok()) return s;
  std::vector<std::pair<std::string, std::string>> weight_map;
  if (Status s = ParseIndex(text.data(), text.size(), index_path, &weight_map); !s.ok()) return s;
  const size_t slash = index_path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? std::string() : index_path.substr(0, slash + 1);

  std::unique_ptr<ShardedSafetensors> set(new ShardedSafetensors());
  set->index_name_ = index_path.substr(slash == std::string::npos ? 0 : slash + 1);
  for (const auto& [tensor, shard] : weight_map) {
    auto it = set->shards_.find(shard);
    if (it == set->shards_.end()) {
      std::unique_ptr<SafetensorsFile> file;
      Status opened = SafetensorsFile::Open(dir + shard, &file);
      if (!opened.ok()) return Status::ModelLoad(set->index_name_ + " names shard " + shard + ": " + opened.message());
      it = set->shards_.emplace(shard, std::move(file)).first;
    }
    const TensorView* view = it->second->Find(tensor);
    if (!view) {
      return Status::ModelLoad(set->index_name_ + " maps tensor " + tensor + " to " + shard + ", which does not hold it");
    }
    set->tensors_[tensor] = {view, shard};
  }
  *out = std::move(set);
  return Status::Ok();
}

const TensorView* ShardedSafetensors::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second.first;
}

std::string ShardedSafetensors::FileOf(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? index_name_ : it->second.second;
}

Status OpenTensorSource(const std::string& path, std::unique_ptr<TensorSource>* out) {
  if (EndsWith(path, ".index.json")) {
    std::unique_ptr<ShardedSafetensors> sharded;
    if (Status s = ShardedSafetensors::Open(path, &sharded); !s.ok()) return s;
    *out = std::move(sharded);
    return Status::Ok();
  }
  std::unique_ptr<SafetensorsFile> file;
  if (Status s = SafetensorsFile::Open(path, &file); !s.ok()) return s;
  *out = std::move(file);
  return Status::Ok();
}

std::string WeightsPathIn(const std::string& dir) {
  const std::string single = dir + "/model.safetensors";
  struct stat st;
  return ::stat(single.c_str(), &st) == 0 ? single : dir + "/model.safetensors.index.json";
}

}  // namespace crossrank
