// Status: how every fallible engine call reports failure. Native code never throws
// across the engine boundary and never aborts; the binding maps a Status to a typed
// JS error (CrossrankError subclass) in one place.
#pragma once

#include <string>
#include <utility>

namespace crossrank {

// Stable codes. The JS side (src/errors.ts) maps each to a CrossrankError subclass
// by name; keep both lists in step.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,
  kModelLoad = 2,
  kBackendUnavailable = 3,
  kOutOfMemory = 4,
  kCuda = 5,
  kInternal = 6,
};

// The JS error code string for a status code, e.g. "CROSSRANK_INVALID_ARGUMENT".
const char* StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status ModelLoad(std::string m) { return {StatusCode::kModelLoad, std::move(m)}; }
  static Status BackendUnavailable(std::string m) { return {StatusCode::kBackendUnavailable, std::move(m)}; }
  static Status OutOfMemory(std::string m) { return {StatusCode::kOutOfMemory, std::move(m)}; }
  static Status Cuda(std::string m) { return {StatusCode::kCuda, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace crossrank
