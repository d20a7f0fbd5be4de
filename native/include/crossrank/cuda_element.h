// The 16-bit type of the CUDA engine's weight matrices and activations (norm parameters,
// biases, the decoder's residual stream and answer rows stay fp32; the CPU reference is fp32
// throughout).
//
// fp16 keeps 3 more mantissa bits than bf16 but stops at 65,504; bf16 has fp32's range. The
// encoders default to fp16 (BERT-family activations stay well inside it, and the extra bits
// keep near-tied scores apart); the decoders to bf16, the type Qwen3 checkpoints are trained
// and shipped in, whose activations can pass fp16's largest value.
#pragma once

namespace crossrank {

enum class CudaElementType { kBf16 = 0, kFp16 = 1 };

inline const char* CudaElementName(CudaElementType t) { return t == CudaElementType::kFp16 ? "fp16" : "bf16"; }

}  // namespace crossrank
