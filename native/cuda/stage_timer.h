// Where a forward pass's GPU time goes, on request (CROSSRANK_CUDA_PROFILE=1): an event is
// recorded on the model's stream after each stage's kernels, and at the end of a batch the
// time between consecutive events is added to that stage's total. Batches of one shape (rows
// and sequences) are summed together; when the shape changes, and when the model is destroyed,
// their totals are printed to stderr, per batch and as shares of the whole, one line per shape
// (the device check reads them from the harness's timed runs). Off, it records nothing.
//
// The events sit between kernels on the one stream, so they time the stages as the card runs
// them (a stage's time includes any gap before its first kernel); recording them costs the
// host a little per stage, which only matters for batches too small to keep the card busy.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace crossrank::cuda {

class StageTimer {
 public:
  explicit StageTimer(std::string model) : model_(std::move(model)) {
    const char* v = std::getenv("CROSSRANK_CUDA_PROFILE");
    enabled_ = v && std::strcmp(v, "1") == 0;
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;
  ~StageTimer() {
    Print();
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
  }

  // A batch of `rows` rows in `sequences` sequences starts now on `stream`.
  void Begin(cudaStream_t stream, int rows, int sequences) {
    marks_.clear();
    if (!enabled_) return;
    if (rows != rows_ || sequences != sequences_) {
      Print();
      totals_.clear();
      batches_ = 0;
      rows_ = rows, sequences_ = sequences;
    }
    Record(nullptr, stream);
  }
  // The kernels queued since the last mark were stage `name` (a string literal).
  void Mark(const char* name, cudaStream_t stream) {
    if (enabled_ && !marks_.empty()) Record(name, stream);
  }
  // The batch's stage times into the totals (waits for its last mark). A batch whose events did
  // not all record adds nothing.
  void End() {
    if (!enabled_ || marks_.size() < 2 || cudaEventSynchronize(events_[marks_.size() - 1]) != cudaSuccess) return;
    std::vector<float> ms(marks_.size(), 0.0f);
    for (size_t i = 1; i < marks_.size(); ++i) {
      if (cudaEventElapsedTime(&ms[i], events_[i - 1], events_[i]) != cudaSuccess) return;
    }
    for (size_t i = 1; i < marks_.size(); ++i) Add(marks_[i], ms[i]);
    ++batches_;
  }

 private:
  void Record(const char* name, cudaStream_t stream) {
    const size_t i = marks_.size();
    if (i == events_.size()) {
      cudaEvent_t e = nullptr;
      if (cudaEventCreate(&e) != cudaSuccess) return;
      events_.push_back(e);
    }
    if (cudaEventRecord(events_[i], stream) == cudaSuccess) marks_.push_back(name);
  }
  void Add(const char* name, float ms) {
    for (auto& total : totals_) {
      if (std::strcmp(total.first, name) == 0) {
        total.second += ms;
        return;
      }
    }
    totals_.emplace_back(name, ms);
  }
  void Print() const {
    if (!enabled_ || batches_ == 0) return;
    double all = 0;
    for (const auto& total : totals_) all += total.second;
    std::string line;
    for (const auto& [name, ms] : totals_) {
      char part[128];
      std::snprintf(part, sizeof part, "%s %.3f ms (%.0f%%)", name, ms / batches_, all > 0 ? 100.0 * ms / all : 0.0);
      line += (line.empty() ? "" : ", ") + std::string(part);
    }
    std::fprintf(stderr, "crossrank CUDA profile, %s, %d sequences, %d rows, per batch over %d batches (%.3f ms): %s\n",
                 model_.c_str(), sequences_, rows_, batches_, all / batches_, line.c_str());
  }

  std::string model_;
  bool enabled_ = false;
  std::vector<cudaEvent_t> events_;                    // reused from batch to batch
  std::vector<const char*> marks_;                     // per recorded event, the stage it closes (the first: none)
  std::vector<std::pair<const char*, double>> totals_;  // ms, in the order stages first ran
  int batches_ = 0, rows_ = -1, sequences_ = -1;  // the shape being summed
};

}  // namespace crossrank::cuda
