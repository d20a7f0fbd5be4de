// Opening a model file: read-only, close-on-exec, and only a regular file (a directory or a
// device named as weights is an error, not a hang). Shared by the safetensors mapping and a
// sharded checkpoint's index.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "crossrank/status.h"

namespace crossrank {

// On success *fd is open (the caller closes it) and *size is the file's length.
inline Status OpenRegularFile(const std::string& path, int* fd, size_t* size) {
  const int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f < 0) return Status::ModelLoad("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(f);
    return Status::ModelLoad(path + " is not a regular file");
  }
  *fd = f;
  *size = static_cast<size_t>(st.st_size);
  return Status::Ok();
}

}  // namespace crossrank
