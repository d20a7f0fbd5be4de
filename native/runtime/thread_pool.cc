#include "crossrank/thread_pool.h"

#include <algorithm>

namespace crossrank {

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::ParallelFor(size_t n, size_t min_chunk, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  const size_t parts = std::min<size_t>(static_cast<size_t>(size()) * 4, std::max<size_t>(1, n / std::max<size_t>(1, min_chunk)));
  if (parts <= 1 || workers_.empty()) {
    fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  fn_ = &fn;
  n_ = n;
  chunk_ = (n + parts - 1) / parts;
  next_ = 0;
  pending_ = (n + chunk_ - 1) / chunk_;  // chunks actually handed out (can be fewer than parts)
  ++generation_;
  work_ready_.notify_all();
  // The caller works too.
  while (next_ < n_) {
    const size_t begin = next_;
    const size_t end = std::min(n_, begin + chunk_);
    next_ = end;
    lock.unlock();
    fn(begin, end);
    lock.lock();
    --pending_;
  }
  work_done_.wait(lock, [this] { return pending_ == 0; });
  fn_ = nullptr;
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_ready_.wait(lock, [&] { return stop_ || (generation_ != seen && fn_ && next_ < n_); });
    if (stop_) return;
    seen = generation_;
    while (fn_ && next_ < n_) {
      const size_t begin = next_;
      const size_t end = std::min(n_, begin + chunk_);
      next_ = end;
      const auto* fn = fn_;
      lock.unlock();
      (*fn)(begin, end);
      lock.lock();
      if (--pending_ == 0) work_done_.notify_all();
    }
  }
}

}  // namespace crossrank
