#!/usr/bin/env bash
# Builds the engine core and its C++ tests with AddressSanitizer and UndefinedBehaviorSanitizer
# (any finding is fatal) and runs them: JSON and safetensors parsing, the WordPiece tokenizer
# on hostile input, the thread pool, truncation, the score head and the reference forward
# pass (classifier and bare encoder). Where the CUDA headers are installed, also the CUDA
# backend's kernels and forward passes on the CPU emulation (native/cuda/emu), whose device
# buffers are ordinary heap blocks of their exact size: a kernel reading or writing past a
# buffer is reported with its source line (the op harness, --quick).
#   bash scripts/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build-sanitize "${generator[@]}" -DCROSSRANK_ADDON=OFF -DCROSSRANK_CUDA=OFF \
  -DCROSSRANK_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-sanitize --target crossrank_native_tests >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
./build-sanitize/crossrank_native_tests
if grep -q '^CROSSRANK_CUDA_INCLUDE:PATH=/' build-sanitize/CMakeCache.txt; then
  cmake --build build-sanitize --target crossrank_cuda_emu crossrank_cuda_ops crossrank_cuda_emu_selftest >/dev/null
  ./build-sanitize/crossrank_cuda_emu_selftest | tail -n 1 | sed 's/^/cuda emulation self-test: /'
  ./build-sanitize/crossrank_cuda_ops build-sanitize/libcrossrank_cuda_emu.so --quick | tail -n 1 |
    sed 's/^/cuda ops on the emulation: /'
else
  echo "cuda ops on the emulation: skipped (no CUDA headers)"
fi
