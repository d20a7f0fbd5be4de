#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for crossrank development and CI:
#   system packages  cmake, g++, ninja (native build); python3-torch, python3-onnx
#                    (the independent reference the tests compare against); chromium
#                    (the HTML report test renders in it); postgresql (the tests start
#                    their own throwaway server for the PostgreSQL retriever); clang and
#                    libclang-rt-14-dev (libFuzzer for scripts/fuzz.sh)
#   npm packages     npm ci (onnxruntime-node's CUDA download skipped)
#   builds           TypeScript (dist/), the native addon and, when nvcc is on PATH,
#                    the CUDA backend library; then the prebuilt binaries (prebuilds/)
# Only the npm registry and Debian's package mirrors are used.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake g++ ninja-build python3 python3-torch python3-onnx python3-numpy chromium postgresql clang libclang-rt-14-dev)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: no apt-get; make sure cmake, a C++17 compiler and python3 with torch and onnx are installed" >&2
fi

export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
npm run build:ts
npm run prebuild
echo "setup: done ($(node dist/cli/main.js doctor | grep -E '^native' | tr -s ' '))"
