// One-pass attention on PTX mma.sync (attention_mma.cu): the tensor-core attention problem
// (attention_tensor_core.cuh) with each key tile read once. A candidate for the default,
// chosen with CROSSRANK_CUDA_ATTENTION=mma (read at each launch, so the op harness checks it
// beside the others) until the device check has run it on a card; it takes exactly the
// shapes TensorCoreAttentionSupports does.
#pragma once

#include "cuda/kernels/attention_tensor_core.cuh"

namespace crossrank::cuda {

bool MmaAttentionChosen();

template <typename T>
cudaError_t LaunchMmaAttention(const AttentionProblem<T>& p, cudaStream_t stream);

}  // namespace crossrank::cuda
