#include "cuda/common.cuh"
#include "cuda/kernels/rope.cuh"

namespace crossrank::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxHeadDim = 256;

// One warp per (token, head); the head vector is staged in shared memory because each
// rotated element needs its partner half a head away.
template <typename T>
__global__ void QkNormRopeKernel(QkNormRopeParams<T> p, T* __restrict__ q_out, T* __restrict__ k_out,
                                 T* __restrict__ v_out) {
  __shared__ float staged[kWarps][kMaxHeadDim];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int t = blockIdx.x, head = blockIdx.y * kWarps + warp;
  const int all_heads = p.heads + 2 * p.kv_heads, d = p.head_dim, half = d / 2;
  if (head >= all_heads) return;
  const T* src = p.qkv + (static_cast<size_t>(t) * all_heads + head) * d;
  if (head >= p.heads + p.kv_heads) {  // a value head: copied as is
    T* dst = v_out + (static_cast<size_t>(t) * p.kv_heads + head - p.heads - p.kv_heads) * d;
    for (int i = lane; i < d; i += 32) dst[i] = src[i];
    return;
  }
  const bool is_query = head < p.heads;
  const float* gamma = is_query ? p.q_norm : p.k_norm;
  T* dst = is_query ? q_out + (static_cast<size_t>(t) * p.heads + head) * d
                         : k_out + (static_cast<size_t>(t) * p.kv_heads + head - p.heads) * d;
  float* buf = staged[warp];
  float sq = 0;
  for (int i = lane; i < d; i += 32) {
    const float v = ToFloat(src[i]);
    buf[i] = v;
    sq += v * v;
  }
  const float inv = rsqrtf(WarpSum(sq) / d + p.eps);
  __syncwarp();
  const float position = static_cast<float>(p.positions[t]);
  for (int i = lane; i < d; i += 32) {
    const int pair = i < half ? i + half : i - half, f = i < half ? i : i - half;
    const float a = buf[i] * inv * gamma[i], b = buf[pair] * inv * gamma[pair];
    float s, c;
    sincosf(position * p.inv_freq[f], &s, &c);
    dst[i] = FromFloat<T>(i < half ? a * c - b * s : a * c + b * s);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchQkNormRope(const QkNormRopeParams<T>& p, T* q_out, T* k_out, T* v_out, cudaStream_t stream) {
  if (p.tokens == 0) return cudaSuccess;
  if (p.head_dim < 2 || p.head_dim % 2 != 0 || p.head_dim > kMaxHeadDim) return cudaErrorInvalidValue;
  dim3 grid(p.tokens, (p.heads + 2 * p.kv_heads + kWarps - 1) / kWarps);
  QkNormRopeKernel<T><<<grid, kWarps * 32, 0, stream>>>(p, q_out, k_out, v_out);
  return cudaGetLastError();
}

template cudaError_t LaunchQkNormRope(const QkNormRopeParams<__half>&, __half*, __half*, __half*, cudaStream_t);
template cudaError_t LaunchQkNormRope(const QkNormRopeParams<__nv_bfloat16>&, __nv_bfloat16*, __nv_bfloat16*,
                                      __nv_bfloat16*, cudaStream_t);

}  // namespace crossrank::cuda
