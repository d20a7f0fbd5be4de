// The reference's linear layer, its one hot loop (most of a forward pass's time on the CPU).
#pragma once

#include <cstddef>

#include "crossrank/encoder.h"
#include "crossrank/thread_pool.h"

namespace crossrank::ref {

// y[rows x out] = x[rows x in] W^T + b, with W as transformers stores it ([out x in]).
// Each output's fp32 sum runs in one fixed order (blocks of k, see linear.cc), then + b: the
// same for a row whichever other rows share the call and however many threads run it (so a
// prefix-shared decoder pass equals the unshared one exactly).
void LinearForward(ThreadPool& pool, const float* x, size_t rows, const Linear& layer, float* y);

}  // namespace crossrank::ref
