// One warp-wide tensor-core product, D[16 x 8] += A[16 x 16] B[16 x 8] (fp16 or bf16 in, fp32
// accumulation): PTX `mma.sync.aligned.m16n8k16.row.col`. Unlike WMMA, whose fragments are
// opaque, the PTX ISA documents which lane holds which element, so a kernel can use the
// accumulator of one product as the A operand of the next without a trip through shared
// memory (flash attention's P V), and scale its rows in place (the online softmax).
//
// With g = lane / 4 and t = lane % 4, a lane holds (each uint32_t two 16-bit values, the
// lower column or row in the low half):
//   A (row-major 16 x 16): a[0] = (g, 2t..2t+1), a[1] = (g + 8, 2t..2t+1),
//                          a[2] = (g, 2t+8..2t+9), a[3] = (g + 8, 2t+8..2t+9)
//   B (16 x 8, k by n):    b[0] = (k 2t..2t+1, n g), b[1] = (k 2t+8..2t+9, n g)
//   C/D (16 x 8, fp32):    d[0], d[1] = (g, 2t), (g, 2t+1); d[2], d[3] = (g + 8, 2t), (g + 8, 2t+1)
//
// Operands come from shared memory with `ldmatrix` (LdMatrixX4): four 8 x 8 matrices of 16-bit
// elements in one warp-wide instruction, lanes 8i .. 8i + 7 giving the addresses of matrix i's
// eight rows (16 bytes each, 16-byte aligned). Lane (g, t) receives r[i] = matrix i's row g,
// columns 2t, 2t + 1 — a B fragment register of a matrix stored n-major (keys in rows, for
// Q K^T) — or, transposed (.trans), its rows 2t, 2t + 1 of column g: a B fragment register of
// a matrix stored k-major (values in rows, for P V). One instruction instead of eight 32-bit or
// sixteen 16-bit shared-memory reads per lane.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

#include "cuda/common.cuh"

namespace crossrank::cuda {

// Two elements as the pair a fragment register holds (lo in the low half).
template <typename T>
__device__ __forceinline__ uint32_t PackElements(T lo, T hi) {
  const T pair[2] = {lo, hi};
  uint32_t bits;
  memcpy(&bits, pair, sizeof bits);
  return bits;
}
template <typename T>
__device__ __forceinline__ uint32_t PackFloats(float lo, float hi) {
  return PackElements<T>(FromFloat<T>(lo), FromFloat<T>(hi));
}

#ifndef CROSSRANK_CUDA_EMU

template <bool kTranspose>
__device__ __forceinline__ void LdMatrixX4(uint32_t (&r)[4], const void* row_address) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(row_address));
  if constexpr (kTranspose) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
  }
}

template <typename T>
__device__ __forceinline__ void Mma16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);

template <>
__device__ __forceinline__ void Mma16816<__half>(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <>
__device__ __forceinline__ void Mma16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4],
                                                        const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

#else  // the CPU emulation

// Every lane publishes its row address; each reads the rows its registers come from (row g of
// each matrix, or rows 2t and 2t + 1 transposed) at the addresses their lanes gave.
template <bool kTranspose>
void LdMatrixX4(uint32_t (&r)[4], const void* row_address) {
  const int lane = ::crossrank_emu::Current().lane, g = lane / 4, t = lane % 4;
  if (reinterpret_cast<uintptr_t>(row_address) % 16 != 0) {
    ::crossrank_emu::Fault("ldmatrix: row address not 16-byte aligned");
  }
  uint32_t mine[2];
  memcpy(mine, &row_address, sizeof row_address);
  ::crossrank_emu::WarpPublish(mine, 2);
  auto row_of = [](int src_lane) {
    const unsigned char* row;
    memcpy(&row, ::crossrank_emu::WarpPublished(src_lane), sizeof row);
    return row;
  };
  for (int i = 0; i < 4; ++i) {
    uint16_t pair[2];
    if (kTranspose) {
      for (int h = 0; h < 2; ++h) memcpy(&pair[h], row_of(8 * i + 2 * t + h) + 2 * g, 2);
    } else {
      memcpy(pair, row_of(8 * i + g) + 4 * t, 4);
    }
    memcpy(&r[i], pair, 4);
  }
  ::crossrank_emu::WarpPublishedDone();
}

// Each lane gathers the two rows of A and the two columns of B its four outputs need from the
// lanes the layout above puts them in (every lane publishes its registers to the warp), and
// computes them in fp32: the same layout contract as the hardware's, so a kernel that
// misplaces an element is wrong here too.
template <typename T>
void Mma16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  const int lane = ::crossrank_emu::Current().lane, g = lane / 4, t = lane % 4;
  const uint32_t mine[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
  ::crossrank_emu::WarpPublish(mine, 6);
  auto unpack = [](uint32_t bits, float* out) {
    T pair[2];
    memcpy(pair, &bits, sizeof bits);
    out[0] = ToFloat(pair[0]);
    out[1] = ToFloat(pair[1]);
  };
  float rows[2][16], cols[2][16];  // A rows g and g + 8; B columns 2t and 2t + 1
  for (int s = 0; s < 4; ++s) {    // lane 4g + s holds columns 2s.. and 2s+8.. of rows g, g + 8
    const uint32_t* r = ::crossrank_emu::WarpPublished(4 * g + s);
    unpack(r[0], &rows[0][2 * s]);
    unpack(r[1], &rows[1][2 * s]);
    unpack(r[2], &rows[0][2 * s + 8]);
    unpack(r[3], &rows[1][2 * s + 8]);
  }
  for (int c = 0; c < 2; ++c) {
    for (int s = 0; s < 4; ++s) {  // lane 4n + s holds k 2s.. and 2s+8.. of column n
      const uint32_t* r = ::crossrank_emu::WarpPublished(4 * (2 * t + c) + s);
      unpack(r[4], &cols[c][2 * s]);
      unpack(r[5], &cols[c][2 * s + 8]);
    }
  }
  ::crossrank_emu::WarpPublishedDone();
  for (int i = 0; i < 4; ++i) {
    float sum = 0.0f;
    for (int k = 0; k < 16; ++k) sum += rows[i / 2][k] * cols[i % 2][k];
    d[i] += sum;
  }
}

#endif

}  // namespace crossrank::cuda
