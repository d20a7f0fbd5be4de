// A register-tiled fp32 matrix product, in the classic shape of BLAS micro-kernels (BLIS,
// MLAS): W's columns are copied into panels of 16 that step k of the product reads as two
// 8-lane vectors, and a tile of 6 rows x 16 outputs is kept in 12 vector accumulators, each
// step broadcasting one x value per row. Per step: 2 vector loads + 6 broadcasts for 12
// multiply-adds, against 5 loads for 4 in the dot product per output this replaces (bound by
// loads: 4-5x slower at reranker shapes on a 2-core AVX2 machine, bench/RESULTS.md).
#include "reference/linear.h"

#include <algorithm>
#include <vector>

#include "reference/vec8.h"
#include "reference/vector_math.h"  // CROSSRANK_FMA_CLONES

namespace crossrank::ref {
namespace {

constexpr size_t kPanel = 16;    // outputs per panel: two 8-lane vectors
constexpr size_t kTileRows = 6;  // 12 accumulators + 2 weight vectors + 1 broadcast: AVX2's 16 registers
// Panels packed at once by a task: their 16 x in floats each stay within ~256 KB (L2) while
// every row tile of the task passes over them.
constexpr size_t kBlockBytes = 256 * 1024;
constexpr size_t kMaxBlockPanels = 4;
constexpr size_t kSumBlock = 128;  // k steps summed in one chain (see Tile)

// Columns [j0, j0 + 16) of W, transposed: panel[k * 16 + c] = W[j0 + c][k]; columns past
// `out` are zero.
void PackPanel(const float* w, size_t in, size_t out, size_t j0, float* panel) {
  const size_t n = std::min(kPanel, out - j0);
  for (size_t c = 0; c < n; ++c) {
    const float* row = w + (j0 + c) * in;
    for (size_t k = 0; k < in; ++k) panel[k * kPanel + c] = row[k];
  }
  for (size_t c = n; c < kPanel; ++c)
    for (size_t k = 0; k < in; ++k) panel[k * kPanel + c] = 0.0f;
}

// y[r][j0 + c] = sum_k x[r][k] * panel[k][c] + b[j0 + c] for r < R, c < cols. The sum runs
// over k in blocks of kSumBlock, each in fresh accumulators added to the total after it: the
// rounding error of one fp32 chain grows with its length (against a double-precision sum, at a
// qwen3-0.6b down projection's 3,072 terms: 3.7e-5 in one chain, 3.9e-6 in blocks of 128).
template <size_t R>
__attribute__((always_inline)) inline void Tile(const float* x, size_t in, const float* panel, const float* b,
                                                float* y, size_t out, size_t j0, size_t cols) {
  V8 total[R][2];
#pragma GCC unroll 6
  for (size_t r = 0; r < R; ++r) total[r][0] = total[r][1] = V8{};
  for (size_t k0 = 0; k0 < in; k0 += kSumBlock) {
    const size_t k1 = std::min(in, k0 + kSumBlock);
    V8 acc[R][2];
    TileProduct<R>(x + k0, in, panel + k0 * kPanel, kPanel, k1 - k0, acc);
    for (size_t r = 0; r < R; ++r) total[r][0] += acc[r][0], total[r][1] += acc[r][1];
  }
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < cols; ++c) y[r * out + j0 + c] = total[r][c / 8][c % 8] + b[j0 + c];
}

// Rows [r0, r1) x panels [p0, p1): packs the panels into `packed`, then runs every row tile
// over them (a tile's rows stay in L1 across the panels).
CROSSRANK_FMA_CLONES void Block(const float* x, const float* w, const float* b, float* y, size_t in, size_t out,
                                 size_t r0, size_t r1, size_t p0, size_t p1, float* packed) {
  for (size_t p = p0; p < p1; ++p) PackPanel(w, in, out, p * kPanel, packed + (p - p0) * kPanel * in);
  for (size_t r = r0; r < r1; r += kTileRows) {
    const size_t rows = std::min(kTileRows, r1 - r);
    for (size_t p = p0; p < p1; ++p) {
      const float* panel = packed + (p - p0) * kPanel * in;
      const size_t j0 = p * kPanel, cols = std::min(kPanel, out - j0);
      const float* xr = x + r * in;
      float* yr = y + r * out;
      switch (rows) {
        case 6: Tile<6>(xr, in, panel, b, yr, out, j0, cols); break;
        case 5: Tile<5>(xr, in, panel, b, yr, out, j0, cols); break;
        case 4: Tile<4>(xr, in, panel, b, yr, out, j0, cols); break;
        case 3: Tile<3>(xr, in, panel, b, yr, out, j0, cols); break;
        case 2: Tile<2>(xr, in, panel, b, yr, out, j0, cols); break;
        default: Tile<1>(xr, in, panel, b, yr, out, j0, cols); break;
      }
    }
  }
}

}  // namespace

void LinearForward(ThreadPool& pool, const float* x, size_t rows, const Linear& layer, float* y) {
  const size_t in = layer.in, out = layer.out;
  if (rows == 0 || out == 0) return;
  const float* w = layer.weight.data();
  const float* b = layer.bias.data();
  const size_t panels = (out + kPanel - 1) / kPanel;
  const size_t block_panels = std::clamp<size_t>(kBlockBytes / (kPanel * std::max<size_t>(in, 1) * sizeof(float)), 1,
                                                 kMaxBlockPanels);
  const size_t col_blocks = (panels + block_panels - 1) / block_panels;
  // Tasks are (row chunk, column block); each packs its block again, so rows are split only as
  // far as keeping every thread busy needs (a few tasks per thread, for balance).
  const size_t tiles = (rows + kTileRows - 1) / kTileRows;
  const size_t wanted = static_cast<size_t>(pool.size()) * 4;
  const size_t row_chunks = std::min(tiles, std::max<size_t>(1, (wanted + col_blocks - 1) / col_blocks));
  const size_t chunk_rows = ((tiles + row_chunks - 1) / row_chunks) * kTileRows;
  pool.ParallelFor(row_chunks * col_blocks, 1, [&](size_t begin, size_t end) {
    std::vector<float> packed(block_panels * kPanel * in);
    for (size_t t = begin; t < end; ++t) {
      const size_t r0 = (t / col_blocks) * chunk_rows, p0 = (t % col_blocks) * block_panels;
      if (r0 >= rows) continue;
      Block(x, w, b, y, in, out, r0, std::min(rows, r0 + chunk_rows), p0, std::min(panels, p0 + block_panels),
            packed.data());
    }
  });
}

}  // namespace crossrank::ref
