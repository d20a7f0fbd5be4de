#!/usr/bin/env bash
# Builds the engine core and its C++ tests with AddressSanitizer and UndefinedBehaviorSanitizer
# (any finding is fatal) and runs them: JSON and safetensors parsing, the WordPiece tokenizer
# on hostile input, the thread pool, truncation, the score head and the reference forward
# pass (classifier and bare encoder). Where the CUDA headers are installed, also the CUDA
# backend's kernels and forward passes on the CPU emulation (native/cuda/emu), whose device
# buffers are ordinary heap blocks of their exact size: a kernel reading or writing past a
# buffer is reported with its source line (the op harness, --quick, with the cuBLASLt path
# on its CPU stand-in too: native/cuda/emu/fake_cublaslt.cc).
#   bash scripts/sanitize.sh [--model ENCODER_DIR] [--qwen3 DECODER_DIR --prompts PROMPTS_JSON]
# The options add the forward passes on the emulation, under the same sanitizers: an encoder
# (the harness's --model mode, fp16 and bf16) and a Qwen3 decoder on real prompts (--qwen3
# mode, bf16 and fp16; prompts from scripts/device/qwen3-prompts.mjs).
#
#   bash scripts/sanitize.sh --race
# instead builds the CUDA emulation with ThreadSanitizer as a race checker for the kernels
# (native/cuda/emu/runtime.cc): the emulated threads of a block may only be ordered by the
# barriers CUDA has, so a missing __syncthreads or __syncwarp is reported. It checks that the
# checker reports a kernel with a missing barrier, then runs the op harness (--quick) and
# expects no report. Slow (minutes on two cores), so not part of npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--race" ]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S . -B build-race "${generator[@]}" -DCROSSRANK_ADDON=OFF -DCROSSRANK_CUDA=OFF \
    -DCROSSRANK_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  grep -q '^CROSSRANK_CUDA_INCLUDE:PATH=/' build-race/CMakeCache.txt ||
    { echo "race check: needs the CUDA headers (the emulation is built against them)"; exit 2; }
  cmake --build build-race --target crossrank_cuda_emu crossrank_cuda_ops crossrank_cuda_emu_selftest >/dev/null
  export TSAN_OPTIONS=exitcode=66
  if ./build-race/crossrank_cuda_emu_selftest --race >/dev/null 2>build-race/missing-barrier.log ||
    ! grep -q 'data race' build-race/missing-barrier.log; then
    echo "race check: a kernel with a missing barrier was not reported"; exit 1
  fi
  echo "race check: a missing barrier is reported"
  ./build-race/crossrank_cuda_emu_selftest | tail -n 1 | sed 's/^/race check, emulation self-test: /'
  ./build-race/crossrank_cuda_ops build-race/libcrossrank_cuda_emu.so --quick --no-grid-limits | tail -n 1 |
    sed 's/^/race check, cuda ops: /'
  echo "race check: no races"
  exit 0
fi
encoder= decoder= prompts=
while [ $# -gt 0 ]; do
  case $1 in
    --model) encoder=$(realpath "$2"); shift 2 ;;
    --qwen3) decoder=$(realpath "$2"); shift 2 ;;
    --prompts) prompts=$(realpath "$2"); shift 2 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
if [ -n "$decoder" ] && [ -z "$prompts" ]; then echo "--qwen3 needs --prompts"; exit 2; fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build-sanitize "${generator[@]}" -DCROSSRANK_ADDON=OFF -DCROSSRANK_CUDA=OFF \
  -DCROSSRANK_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-sanitize --target crossrank_native_tests >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
./build-sanitize/crossrank_native_tests
if grep -q '^CROSSRANK_CUDA_INCLUDE:PATH=/' build-sanitize/CMakeCache.txt; then
  cmake --build build-sanitize --target crossrank_cuda_emu crossrank_cuda_ops crossrank_cuda_emu_selftest \
    crossrank_cublaslt_emu >/dev/null
  export CROSSRANK_CUBLASLT=$PWD/build-sanitize/libcrossrank_cublaslt_emu.so
  ./build-sanitize/crossrank_cuda_emu_selftest | tail -n 1 | sed 's/^/cuda emulation self-test: /'
  ./build-sanitize/crossrank_cuda_ops build-sanitize/libcrossrank_cuda_emu.so --quick | tail -n 1 |
    sed 's/^/cuda ops on the emulation (incl. the cuBLASLt path): /'
  harness=(./build-sanitize/crossrank_cuda_ops build-sanitize/libcrossrank_cuda_emu.so --quick)
  # A sanitizer report aborts the harness; its output is shown then.
  quiet() { "$@" >build-sanitize/model.log 2>&1 || { cat build-sanitize/model.log; exit 1; }; }
  if [ -n "$encoder" ]; then
    for element in fp16 bf16; do quiet "${harness[@]}" --model "$encoder" --element "$element"; done
    CROSSRANK_CUDA_GEMM=cublaslt quiet "${harness[@]}" --model "$encoder" --parity-only
    echo "cuda encoder on the emulation (fp16, bf16; cuBLASLt path): clean"
  fi
  if [ -n "$decoder" ]; then
    for element in bf16 fp16; do quiet "${harness[@]}" --qwen3 "$decoder" --prompts "$prompts" --cpu-docs 3 --element "$element"; done
    echo "cuda decoder on the emulation (bf16, fp16): clean"
  fi
else
  echo "cuda ops on the emulation: skipped (no CUDA headers)"
fi
