#!/usr/bin/env bash
# GPU check, run on a machine with an NVIDIA GPU and the CUDA toolkit but no Node.js.
# Build here first (`npm run build:native`, nvcc on PATH), then carry `build/` there and run
#   bash scripts/device/gpu-check.sh
# It validates every CUDA op against its CPU reference and times it (native/tests/cuda_ops.cc),
# then repeats the validation under compute-sanitizer (memcheck, racecheck). Prints a short
# table last. Record the output in bench/GPU_NOTES.md with the card, command and date.
set -u
cd "$(dirname "$0")/../.."
lib=build/Release/libcrossrank_cuda.so
ops=build/crossrank_cuda_ops
for f in "$lib" "$ops"; do
  [ -e "$f" ] || { echo "missing $f: run npm run build:native with nvcc on PATH, and carry build/"; exit 2; }
done

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | head -4
date -u +"date: %Y-%m-%dT%H:%M:%SZ"

echo "== ops: validate + time"
"$ops" "$lib" --bench
ops_status=$?

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
memcheck_status=skipped
racecheck_status=skipped
if [ -n "$sanitizer" ]; then
  echo "== compute-sanitizer memcheck"
  "$sanitizer" --tool memcheck --error-exitcode 9 "$ops" "$lib" >/tmp/memcheck.log 2>&1
  memcheck_status=$?
  tail -n 5 /tmp/memcheck.log
  echo "== compute-sanitizer racecheck"
  "$sanitizer" --tool racecheck --error-exitcode 9 "$ops" "$lib" >/tmp/racecheck.log 2>&1
  racecheck_status=$?
  tail -n 5 /tmp/racecheck.log
fi

verdict() { case "$1" in 0) echo pass ;; skipped) echo "skipped (no compute-sanitizer)" ;; *) echo "FAIL ($1)" ;; esac; }
echo
echo "| check | result |"
echo "|---|---|"
echo "| ops vs CPU reference | $(verdict $ops_status) |"
echo "| memcheck | $(verdict $memcheck_status) |"
echo "| racecheck | $(verdict $racecheck_status) |"
[ $ops_status -eq 0 ]
