#!/usr/bin/env bash
# Builds the engine core and its C++ tests with AddressSanitizer and UndefinedBehaviorSanitizer
# (any finding is fatal) and runs them: JSON and safetensors parsing, the WordPiece tokenizer
# on hostile input, the thread pool, truncation, the score head and the reference forward
# pass (classifier and bare encoder).
#   bash scripts/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build-sanitize "${generator[@]}" -DCROSSRANK_ADDON=OFF -DCROSSRANK_CUDA=OFF \
  -DCROSSRANK_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-sanitize --target crossrank_native_tests >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./build-sanitize/crossrank_native_tests
