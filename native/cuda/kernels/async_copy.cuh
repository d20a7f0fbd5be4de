// cp.async (sm_80+): 16-byte copies from global into shared memory that run while the thread
// goes on computing, grouped by commit and waited for by group. Used to fill one shared-memory
// tile while another is read (the pipelined linear kernels, the mma.sync attention).
//
// The rules a kernel must keep: a thread reads nothing a copy writes before its own wait for
// that copy's group, and the block reads another thread's copies only after that wait and a
// __syncthreads; a copy must not target shared memory that some thread may still read. The CPU
// emulation lands copies at once or, with CROSSRANK_CUDA_EMU_CP_ASYNC=late, at the wait: a
// kernel breaking either rule is wrong under one of the two.
#pragma once

#ifndef CROSSRANK_CUDA_EMU

// Copies 16 bytes, of which the first src_bytes are read from `global` and the rest are zero
// (src_bytes = 0: a zero fill that reads nothing; `global` must still be a valid address).
__device__ __forceinline__ void CpAsync16(void* shared, const void* global, int src_bytes) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(global), "r"(src_bytes));
}
// Closes the group of the copies this thread issued since the last commit.
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most kPending of this thread's committed groups (the newest) are in flight.
template <int kPending>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

#else  // the CPU emulation (native/cuda/emu)

inline void CpAsync16(void* shared, const void* global, int src_bytes) {
  ::crossrank_emu::AsyncCopy16(shared, global, src_bytes);
}
inline void CpAsyncCommit() { ::crossrank_emu::AsyncCommit(); }
template <int kPending>
inline void CpAsyncWait() {
  ::crossrank_emu::AsyncWait(kPending);
}

#endif
