// The CPU emulation's scheduler and the CUDA runtime calls the backend makes (see emu.h).
//
// A block runs on one OS thread as one fiber per CUDA thread (a stack switch of our own on
// x86-64, ucontext elsewhere). The scheduler resumes every runnable fiber in turn; a fiber
// runs until it finishes or reaches a barrier. When every live thread of the block waits at
// __syncthreads, or every live lane of a warp waits at a warp barrier, they are released
// together; when neither can happen the barrier is divergent, which is a fault. Device
// memory is host memory; copies and launches are synchronous, so streams are tokens and
// every call sees finished work.
#include <ucontext.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cuda/emu/emu.h"

// Fiber switching. glibc's swapcontext saves and restores the signal mask with a system
// call each time, which dominated the run time of shuffle-heavy kernels; on x86-64 a switch
// only needs the callee-saved registers and the stack pointer (the floating-point control
// state is the same in every fiber: nothing here changes it).
#if defined(__x86_64__)
extern "C" void crossrank_emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .globl crossrank_emu_switch
  .hidden crossrank_emu_switch
  .type crossrank_emu_switch, @function
crossrank_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size crossrank_emu_switch, .-crossrank_emu_switch
)");
#endif

// ThreadSanitizer as the emulation's race checker (scripts/sanitize.sh --race): each emulated
// thread is a TSan fiber, switching between fibers implies no ordering, and the only
// happens-before edges are those CUDA guarantees: every arrival at a barrier (of the block,
// or of a warp) before every departure from it, the launch before a block, and the previous
// block before the next (blocks then run one at a time on one OS thread and reuse the same
// shared memory, so races between blocks are not seen). Two threads of a block touching the
// same byte with no such edge between them, one of them writing, is reported. This file
// itself is built without instrumentation (its bookkeeping is ordered by the scheduler).
#if defined(CROSSRANK_EMU_TSAN)
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
}
#endif

namespace crossrank_emu {
namespace {

#if defined(CROSSRANK_EMU_TSAN)
void* RaceFiberCreate() { return __tsan_create_fiber(0); }
void RaceFiberDestroy(void* f) {
  if (f) __tsan_destroy_fiber(f);
}
void* RaceFiberCurrent() { return __tsan_get_current_fiber(); }
void RaceFiberSwitch(void* f) { __tsan_switch_to_fiber(f, 1 /* __tsan_switch_to_fiber_no_sync */); }
void Release(void* token) { __tsan_release(token); }
void Acquire(void* token) { __tsan_acquire(token); }
#else
void* RaceFiberCreate() { return nullptr; }
void RaceFiberDestroy(void*) {}
void* RaceFiberCurrent() { return nullptr; }
void RaceFiberSwitch(void*) {}
void Release(void*) {}
void Acquire(void*) {}
#endif

constexpr size_t kMaxSharedBytes = 48 << 10;        // dynamic shared memory without opting in
constexpr size_t kMaxOptInSharedBytes = 227 << 10;  // with cudaFuncSetAttribute (sm_90's limit)
constexpr size_t kDeviceMemory = size_t(16) << 30;  // what the emulated device reports

// The compute capability the emulated device reports: 9.0, or CROSSRANK_CUDA_EMU_COMPUTE=M.m.
// Below 8.0 it has no kernel image, as a real card older than the library's architectures
// (sm_80 and newer): cudaFuncGetAttributes and launches fail with cudaErrorNoKernelImageForDevice.
struct ComputeCapability {
  int major = 9, minor = 0;
};

ComputeCapability EmulatedCapability() {
  static const ComputeCapability cc = [] {
    ComputeCapability c;
    const char* v = std::getenv("CROSSRANK_CUDA_EMU_COMPUTE");
    if (v && std::sscanf(v, "%d.%d", &c.major, &c.minor) != 2) c = ComputeCapability();
    return c;
  }();
  return cc;
}

bool HasKernelImage() { return EmulatedCapability().major >= 8; }

enum class Wait { kRunnable, kBlockBarrier, kWarpBarrier, kDone };

// A saved execution context: a stack pointer (x86-64) or a ucontext (elsewhere).
struct Context {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
  void* race_fiber = nullptr;  // its ThreadSanitizer fiber (race-checking builds)
};

struct Worker;

// A cp.async copy not landed yet (CROSSRANK_CUDA_EMU_CP_ASYNC=late): its source is read when it
// is issued (global memory does not change under a kernel), its destination written at the wait.
struct PendingCopy {
  void* shared;
  std::array<unsigned char, 16> bytes;
};

struct Fiber {
  Context context;
  char* stack = nullptr;  // kFiberStackBytes, aligned to its size; owned by the worker
  FiberState state;
  Worker* worker = nullptr;
  Wait wait = Wait::kDone;
  unsigned block_barriers = 0, warp_barriers = 0;  // passed so far (race-checking tokens)
  std::vector<PendingCopy> copies;  // issued, not landed: committed groups first, in order
  std::vector<size_t> group_ends;   // per committed group not landed, its end in `copies`
};

struct FreeAligned {
  void operator()(char* p) const { std::free(p); }
};

// One per OS thread: the block it runs and that block's fibers.
struct Worker {
  std::vector<Fiber> fibers;  // grows only, so stacks are kept from block to block
  std::vector<std::unique_ptr<char, FreeAligned>> stacks;
  size_t count = 0;           // threads of the running block: fibers[0, count)
  Context scheduler;
  Fiber* current = nullptr;
  BlockState block{};
  std::vector<std::array<uint32_t, kGatherWords>> gather;  // one WarpPublish (and shuffle) slot per thread
  std::unique_ptr<char, FreeAligned> dynamic_shared;  // kMaxOptInSharedBytes, 128-byte aligned
  size_t dynamic_shared_bytes = 0;                    // what the running launch asked for
  void (*body)(void*) = nullptr;
  void* context = nullptr;
  // Addresses whose release/acquire carry the happens-before edges of a race-checking build:
  // a block's start and end, and per parity of the barrier count, the block's and each warp's
  // barriers (a thread can be at most one barrier ahead of the slowest departure).
  char start_token = 0, done_token = 0, block_tokens[2] = {};
  std::vector<char> warp_tokens;

  ~Worker() {
    for (Fiber& f : fibers) RaceFiberDestroy(f.context.race_fiber);
  }
};

thread_local Worker t_worker;  // used by the scheduler only; fibers find theirs via Self()

Fiber& Self() { return *static_cast<Fiber*>(Current().fiber); }

// The error the next synchronising call or cudaGetLastError reports.
std::mutex g_error_mutex;
cudaError_t g_error = cudaSuccess;

void SetError(cudaError_t error, const std::string& what) {
  std::lock_guard<std::mutex> lock(g_error_mutex);
  if (g_error == cudaSuccess) {
    g_error = error;
    std::fprintf(stderr, "crossrank CUDA emulator: %s\n", what.c_str());
  }
}

cudaError_t TakeError() {
  std::lock_guard<std::mutex> lock(g_error_mutex);
  const cudaError_t e = g_error;
  g_error = cudaSuccess;
  return e;
}

cudaError_t PeekError() {
  std::lock_guard<std::mutex> lock(g_error_mutex);
  return g_error;
}

void Switch(Context* save, Context* load) {
  RaceFiberSwitch(load->race_fiber);
#if defined(__x86_64__)
  crossrank_emu_switch(&save->sp, load->sp);
#else
  swapcontext(&save->uc, &load->uc);
#endif
}

// Hands the OS thread from the running fiber to the next runnable one of this pass, or
// back to the scheduler when none is left (only the scheduler releases barriers, so no
// fiber before this one can have become runnable meanwhile).
void SwitchToNext(Fiber& f) {
  Worker& w = *f.worker;
  Fiber* const last = w.fibers.data() + w.count;
  for (Fiber* next = &f + 1; next != last; ++next) {
    if (next->wait == Wait::kRunnable) {
      w.current = next;
      Switch(&f.context, &next->context);
      return;
    }
  }
  Switch(&f.context, &w.scheduler);
}

#if defined(CROSSRANK_EMU_TSAN)
// The address whose release/acquire orders the barrier `f` is reaching.
char* BarrierToken(Fiber& f, Wait wait) {
  Worker& w = *f.worker;
  if (wait == Wait::kBlockBarrier) return &w.block_tokens[f.block_barriers++ & 1];
  const size_t warp = size_t(&f - w.fibers.data()) / 32;
  return &w.warp_tokens[2 * warp + (f.warp_barriers++ & 1)];
}
#endif

void Yield(Wait wait) {
  Fiber& f = Self();
#if defined(CROSSRANK_EMU_TSAN)  // every barrier and shuffle passes here: no bookkeeping otherwise
  char* token = BarrierToken(f, wait);
  Release(token);
#endif
  f.wait = wait;
  SwitchToNext(f);
#if defined(CROSSRANK_EMU_TSAN)
  Acquire(token);
#endif
}

[[noreturn]] void FiberMain() {
  Fiber& f = Self();
  Acquire(&f.worker->start_token);
  f.worker->body(f.worker->context);
  Release(&f.worker->done_token);
  f.wait = Wait::kDone;
  SwitchToNext(f);
  std::abort();  // a finished fiber is never resumed
}

// Prepares `f` to start FiberMain on its own stack at the next switch to it.
void StartFiber(Fiber& f, Worker& w) {
  *reinterpret_cast<FiberState**>(f.stack) = &f.state;  // what Current() reads
  f.state.fiber = &f;
  f.worker = &w;
  f.block_barriers = f.warp_barriers = 0;
  f.copies.clear();  // a kernel that never waited for its copies: they never landed
  f.group_ends.clear();
  if (!f.context.race_fiber) f.context.race_fiber = RaceFiberCreate();
#if defined(__x86_64__)
  // The frame crossrank_emu_switch pops: six callee-saved registers, then the address it
  // returns to; above it a slot standing for FiberMain's own return address, so FiberMain
  // starts with the stack alignment of a called function.
  // Stacks are aligned to their size, so their tops would all fall into the same cache
  // sets; each starts a few lines further down (by its index) to spread them.
  const size_t color = (size_t(&f - w.fibers.data()) * 320) % (64 << 10);
  auto top = reinterpret_cast<uintptr_t>(f.stack + kFiberStackBytes - color) & ~uintptr_t(15);
  void** sp = reinterpret_cast<void**>(top);
  *--sp = nullptr;
  *--sp = reinterpret_cast<void*>(&FiberMain);
  for (int i = 0; i < 6; ++i) *--sp = nullptr;
  f.context.sp = sp;
#else
  getcontext(&f.context.uc);
  f.context.uc.uc_stack.ss_sp = f.stack + 64;
  f.context.uc.uc_stack.ss_size = kFiberStackBytes - 64;
  f.context.uc.uc_link = &w.scheduler.uc;
  makecontext(&f.context.uc, FiberMain, 0);
#endif
}

std::string Where(const BlockState& b, const Fiber* f) {
  char buf[160];
  const int n = std::snprintf(buf, sizeof buf, " (block %u,%u,%u", b.block_idx.x, b.block_idx.y, b.block_idx.z);
  if (f) {
    std::snprintf(buf + n, sizeof buf - n, " thread %u,%u,%u)", f->state.thread_idx.x, f->state.thread_idx.y,
                  f->state.thread_idx.z);
  } else {
    std::snprintf(buf + n, sizeof buf - n, ")");
  }
  return buf;
}

// Releases the threads waiting at a barrier that every live participant has reached.
bool ReleaseBarriers(Worker& w) {
  const size_t n = w.count;
  bool released = false;
  for (size_t warp0 = 0; warp0 < n; warp0 += 32) {
    const size_t end = std::min(n, warp0 + 32);
    bool any = false, all = true;
    for (size_t i = warp0; i < end; ++i) {
      const Wait s = w.fibers[i].wait;
      if (s == Wait::kWarpBarrier) any = true;
      else if (s != Wait::kDone) all = false;
    }
    if (any && all) {
      for (size_t i = warp0; i < end; ++i)
        if (w.fibers[i].wait == Wait::kWarpBarrier) w.fibers[i].wait = Wait::kRunnable;
      released = true;
    }
  }
  if (released) return true;
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    if (w.fibers[i].wait == Wait::kBlockBarrier) any = true;
    else if (w.fibers[i].wait != Wait::kDone) return false;
  }
  if (!any) return false;
  for (size_t i = 0; i < n; ++i)
    if (w.fibers[i].wait == Wait::kBlockBarrier) w.fibers[i].wait = Wait::kRunnable;
  return true;
}

void RunBlock(Worker& w, uint3 block_idx) {
  w.block.block_idx = block_idx;
  Acquire(&w.done_token);  // the previous block on this worker ...
  // Dynamic shared memory reads as NaN until written (a memset the race checker sees, so
  // it is ordered after the previous block and before this one).
  if (w.dynamic_shared) std::memset(w.dynamic_shared.get(), 0xFF, w.dynamic_shared_bytes);
  Release(&w.start_token);  // ... before this one
  const dim3 b = w.block.block_dim;
  for (size_t i = 0; i < w.count; ++i) {
    Fiber& f = w.fibers[i];
    StartFiber(f, w);
    f.state.thread_idx = make_uint3(unsigned(i % b.x), unsigned(i / b.x % b.y), unsigned(i / (size_t(b.x) * b.y)));
    f.state.lane = int(i % 32);
    f.state.block = &w.block;
    f.wait = Wait::kRunnable;
  }
  Fiber* const first = w.fibers.data();
  Fiber* const last = first + w.count;
  for (;;) {
    // One pass: the first runnable fiber runs, and each hands over to the next (SwitchToNext).
    Fiber* f = first;
    while (f != last && f->wait != Wait::kRunnable) ++f;
    if (f != last) {
      w.current = f;
      Switch(&w.scheduler, &f->context);
    }
    w.current = nullptr;
    if (std::all_of(first, last, [](const Fiber& f) { return f.wait == Wait::kDone; })) return;
    if (!ReleaseBarriers(w)) {
      // The waiting fibers are abandoned; their stacks are reset by the next block. For the
      // race checker, each ends here as if it had finished.
      for (Fiber* f = first; f != last; ++f) {
        if (f->wait == Wait::kDone) continue;
        RaceFiberSwitch(f->context.race_fiber);
        Release(&w.done_token);
      }
      RaceFiberSwitch(w.scheduler.race_fiber);
      SetError(cudaErrorLaunchFailure, "a barrier that not every thread of the block or warp reaches" + Where(w.block, nullptr));
      return;
    }
  }
}

void RunBlocks(const LaunchConfig& config, void (*body)(void*), void* context, std::atomic<size_t>& next) {
  Worker& w = t_worker;
  const size_t threads = size_t(config.block.x) * config.block.y * config.block.z;
  if (w.fibers.size() < threads) w.fibers.resize(threads);
  while (w.stacks.size() < threads) {
    w.stacks.emplace_back(static_cast<char*>(std::aligned_alloc(kFiberStackBytes, kFiberStackBytes)));
    if (!w.stacks.back()) {
      w.stacks.pop_back();
      SetError(cudaErrorMemoryAllocation, "no memory for the emulated threads' stacks");
      return;
    }
  }
  for (size_t i = 0; i < threads; ++i) w.fibers[i].stack = w.stacks[i].get();
  w.count = threads;
  w.gather.assign(threads, {});
  w.warp_tokens.assign(2 * ((threads + 31) / 32), 0);
  w.scheduler.race_fiber = RaceFiberCurrent();
  if (config.dynamic_shared && !w.dynamic_shared) {
    w.dynamic_shared.reset(static_cast<char*>(std::aligned_alloc(128, kMaxOptInSharedBytes)));
    if (!w.dynamic_shared) {
      SetError(cudaErrorMemoryAllocation, "no memory for the emulated shared memory");
      return;
    }
  }
  w.dynamic_shared_bytes = config.dynamic_shared;
  w.block.block_dim = config.block;
  w.block.grid_dim = config.grid;
  w.block.dynamic_shared = w.dynamic_shared.get();
  w.body = body;
  w.context = context;
  const dim3 g = config.grid;
  const size_t blocks = size_t(g.x) * g.y * g.z;
  for (size_t i; (i = next.fetch_add(1)) < blocks;) {
    RunBlock(w, make_uint3(unsigned(i % g.x), unsigned(i / g.x % g.y), unsigned(i / (size_t(g.x) * g.y))));
  }
  Acquire(&w.done_token);  // the kernel's work before whatever the host does next
}

}  // namespace

void SyncThreads() { Yield(Wait::kBlockBarrier); }
void SyncWarp() { Yield(Wait::kWarpBarrier); }

namespace {
// The slot `lane` of the caller's warp published, or zeros and a fault (`what`) for a lane that
// has exited or does not exist.
const uint32_t* PublishedBy(int lane, const char* what) {
  Fiber& f = Self();
  Worker& w = *f.worker;
  const size_t src = size_t(&f - w.fibers.data()) - size_t(f.state.lane) + size_t(lane);
  static const uint32_t kZeros[kGatherWords] = {};
  if (lane < 0 || lane > 31 || src >= w.count || w.fibers[src].wait == Wait::kDone) {
    Fault(what);
    return kZeros;
  }
  return w.gather[src].data();
}
}  // namespace

void WarpPublish(const uint32_t* words, int count) {
  Fiber& f = Self();
  Worker& w = *f.worker;
  const size_t self = size_t(&f - w.fibers.data());
  if (count < 0 || count > kGatherWords) Fault("WarpPublish: more words than a slot holds");
  std::copy(words, words + std::max(0, std::min(count, kGatherWords)), w.gather[self].begin());
  Yield(Wait::kWarpBarrier);
}

const uint32_t* WarpPublished(int lane) {
  return PublishedBy(lane, "warp-wide operation with a lane that has exited or does not exist");
}

void WarpPublishedDone() { Yield(Wait::kWarpBarrier); }

// A shuffle is the one-value case of the above.
uint64_t WarpExchange(uint64_t value, int src_lane) {
  uint32_t words[2];
  std::memcpy(words, &value, sizeof value);
  WarpPublish(words, 2);
  uint64_t out;
  std::memcpy(&out, PublishedBy(src_lane, "warp shuffle reads a lane that has exited or does not exist"), sizeof out);
  WarpPublishedDone();  // nobody overwrites its slot before every lane has read
  return out;
}

void Fault(const char* what) {
  const Fiber& f = Self();
  SetError(cudaErrorLaunchFailure, what + Where(f.worker->block, &f));
}

namespace {
// -1: not decided yet (the environment decides at the first copy); 0: at once; 1: late.
std::atomic<int> late_copies{-1};
bool LateCopies() {
  int late = late_copies.load(std::memory_order_relaxed);
  if (late < 0) {
    const char* v = std::getenv("CROSSRANK_CUDA_EMU_CP_ASYNC");
    late = v && std::strcmp(v, "late") == 0 ? 1 : 0;
    late_copies.store(late, std::memory_order_relaxed);
  }
  return late == 1;
}
}  // namespace

void SetLateAsyncCopies(bool late) { late_copies.store(late ? 1 : 0, std::memory_order_relaxed); }

void AsyncCopy16(void* shared, const void* global, int src_bytes) {
  if (reinterpret_cast<uintptr_t>(shared) % 16 || reinterpret_cast<uintptr_t>(global) % 16) {
    Fault("cp.async: address not 16-byte aligned");
    return;
  }
  if (src_bytes < 0 || src_bytes > 16) {
    Fault("cp.async: source size outside 0..16");
    return;
  }
  PendingCopy copy{shared, {}};
  std::memcpy(copy.bytes.data(), global, size_t(src_bytes));
  if (!LateCopies()) {
    std::memcpy(shared, copy.bytes.data(), copy.bytes.size());
    return;
  }
  Self().copies.push_back(copy);
}

void AsyncCommit() {
  Fiber& f = Self();
  if (LateCopies()) f.group_ends.push_back(f.copies.size());
}

void AsyncWait(int pending_groups) {
  Fiber& f = Self();
  const size_t keep = size_t(std::max(0, pending_groups));  // the newest groups left in flight
  if (f.group_ends.size() <= keep) return;
  const size_t landed_groups = f.group_ends.size() - keep, done = f.group_ends[landed_groups - 1];
  for (size_t i = 0; i < done; ++i) std::memcpy(f.copies[i].shared, f.copies[i].bytes.data(), 16);
  f.copies.erase(f.copies.begin(), f.copies.begin() + std::ptrdiff_t(done));
  f.group_ends.erase(f.group_ends.begin(), f.group_ends.begin() + std::ptrdiff_t(landed_groups));
  for (size_t& end : f.group_ends) end -= done;
}

// Kernels' opted-in dynamic shared memory (cudaFuncSetAttribute), by kernel address.
std::mutex opt_in_mutex;
std::map<const void*, size_t> opt_in_shared;

size_t MaxDynamicShared(const void* kernel) {
  std::lock_guard<std::mutex> lock(opt_in_mutex);
  auto it = opt_in_shared.find(kernel);
  return it == opt_in_shared.end() ? kMaxSharedBytes : std::max(kMaxSharedBytes, it->second);
}

cudaError_t RunGrid(const LaunchConfig& config, void (*body)(void*), void* context) {
  if (!HasKernelImage()) {
    SetError(cudaErrorNoKernelImageForDevice, "no kernel image for the emulated compute capability");
    return cudaErrorNoKernelImageForDevice;
  }
  const dim3 b = config.block, g = config.grid;
  const size_t threads = size_t(b.x) * b.y * b.z;
  char what[200];
  if (threads == 0 || threads > 1024 || b.z > 64 || g.x == 0 || g.y == 0 || g.z == 0 || g.x > 0x7fffffffu ||
      g.y > 65535 || g.z > 65535 || config.dynamic_shared > MaxDynamicShared(config.kernel)) {
    std::snprintf(what, sizeof what, "invalid launch: grid %u,%u,%u block %u,%u,%u dynamic shared %zu bytes", g.x, g.y,
                  g.z, b.x, b.y, b.z, config.dynamic_shared);
    SetError(cudaErrorInvalidConfiguration, what);
    return cudaErrorInvalidConfiguration;
  }
  const size_t blocks = size_t(g.x) * g.y * g.z;
#if defined(CROSSRANK_EMU_TSAN)
  const size_t workers = 1;  // shared memory is one static copy under the race checker (emu.h)
#else
  const size_t workers = std::min<size_t>(blocks, std::max(1u, std::thread::hardware_concurrency()));
#endif
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (size_t i = 1; i < workers; ++i) pool.emplace_back([&] { RunBlocks(config, body, context, next); });
  RunBlocks(config, body, context, next);
  for (std::thread& t : pool) t.join();
  return PeekError();
}

namespace {

std::mutex g_alloc_mutex;
std::set<void*> g_allocations;

void* FreshDevice(size_t bytes) {
  // 256-byte aligned like cudaMalloc, but exactly `bytes` long, so an address sanitizer
  // build (scripts/sanitize.sh) reports a kernel reading or writing past a buffer's end.
  void* p = nullptr;
  if (posix_memalign(&p, 256, std::max<size_t>(bytes, 1)) != 0) return nullptr;
  std::memset(p, 0xFF, bytes);  // NaN in fp16 and fp32: reads of unwritten memory show
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  g_allocations.insert(p);
  return p;
}

}  // namespace
}  // namespace crossrank_emu

using crossrank_emu::PeekError;
using crossrank_emu::TakeError;

// ---- the runtime calls the backend makes ------------------------------------------------
extern "C" {

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = crossrank_emu::FreshDevice(bytes);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(crossrank_emu::g_alloc_mutex);
    if (!crossrank_emu::g_allocations.erase(ptr)) return cudaErrorInvalidValue;
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  *ptr = std::malloc(std::max<size_t>(bytes, 1));
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (const cudaError_t e = PeekError()) return e;
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (const cudaError_t e = PeekError()) return e;
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) { return cudaMemset(dst, value, bytes); }

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  *stream = reinterpret_cast<cudaStream_t>(new char);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) { return cudaStreamCreate(stream); }

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete reinterpret_cast<char*>(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return TakeError(); }
cudaError_t cudaDeviceSynchronize(void) { return TakeError(); }
cudaError_t cudaGetLastError(void) { return TakeError(); }
cudaError_t cudaPeekAtLastError(void) { return PeekError(); }

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (emulator: see stderr)";
    case cudaErrorLaunchFailure: return "unspecified launch failure (emulator: see stderr)";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNoKernelImageForDevice: return "no kernel image is available for execution on the device";
    default: return "CUDA error (emulated)";
  }
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "%s", "crossrank CPU emulator (no GPU)");
  prop->major = crossrank_emu::EmulatedCapability().major;
  prop->minor = crossrank_emu::EmulatedCapability().minor;
  prop->totalGlobalMem = crossrank_emu::kDeviceMemory;
  prop->multiProcessorCount = int(std::max(1u, std::thread::hardware_concurrency()));
  prop->sharedMemPerBlock = crossrank_emu::kMaxSharedBytes;
  prop->maxThreadsPerBlock = 1024;
  prop->warpSize = 32;
  return cudaSuccess;
}

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, const void* func) {
  if (!attributes || !func) return cudaErrorInvalidValue;
  std::memset(attributes, 0, sizeof *attributes);
  if (!crossrank_emu::HasKernelImage()) return cudaErrorNoKernelImageForDevice;
  attributes->maxThreadsPerBlock = 1024;
  attributes->maxDynamicSharedSizeBytes = int(crossrank_emu::MaxDynamicShared(func));
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;  // hints: nothing to emulate
  if (!func || value < 0 || size_t(value) > crossrank_emu::kMaxOptInSharedBytes) return cudaErrorInvalidValue;
  std::lock_guard<std::mutex> lock(crossrank_emu::opt_in_mutex);
  crossrank_emu::opt_in_shared[func] = size_t(value);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = *total_bytes = crossrank_emu::kDeviceMemory;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}

// Events: launches and copies here finish before they return, so an event's time is the
// host's clock when it is recorded.
struct CUevent_st {
  std::chrono::steady_clock::time_point at;
  bool recorded = false;
};

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new (std::nothrow) CUevent_st;
  return *event ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (!event) return cudaErrorInvalidResourceHandle;
  event->at = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) { return event ? TakeError() : cudaErrorInvalidResourceHandle; }

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms || !start || !end) return cudaErrorInvalidValue;
  if (!start->recorded || !end->recorded) return cudaErrorInvalidResourceHandle;
  *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
  return cudaSuccess;
}

}  // extern "C"
