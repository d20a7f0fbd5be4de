#!/usr/bin/env bash
# GPU check, run on a machine with an NVIDIA GPU, the CUDA toolkit and PyTorch + transformers,
# but no Node.js. Build here first (`npm run build:native`, nvcc on PATH), then carry `build/`
# there and run
#   bash scripts/device/gpu-check.sh [presets...]      (default: minilm-l6 bert-base qwen3-0.6b)
# 1. every CUDA op against its CPU reference, then each kernel timed at a forward pass's
#    shapes (native/tests/cuda_ops.cc --bench);
# 2. per preset: a synthetic model written by transformers (scripts/device/make_torch_model.py),
#    the CUDA forward pass against the CPU reference and timed at 100 / 1,000 pairs
#    (native/tests/cuda_model.cc), then against PyTorch fp32 logits and PyTorch fp16 SDPA speed
#    (scripts/device/torch_compare.py).
# 2b. per qwen3-* preset (decoder rerankers, issue 8): a synthetic Qwen3ForCausalLM written by
#    transformers, the CUDA decoder (bf16, its default) against the CPU reference, prefix-shared against unshared
#    and both timed on real TREC DL prompts (device-carry/qwen3-prompts.json, token ids written
#    by scripts/device/qwen3-prompts.mjs; native/tests/cuda_decoder.cc), then P(yes) against
#    transformers fp32 and the speed of PyTorch bf16 with and without a shared prefix cache
#    (scripts/device/qwen3_compare.py). The decoder runs in bf16, its default; only if that
#    misses, the same parity again in fp16 on one query.
# 3. if device-carry/ came along (scripts/device/pack-for-device.sh), reranking 100 passages of
#    TREC DL length with minilm-l6 end to end from JavaScript (`crossrank bench`, native
#    engine on CUDA): p50/p95/p99 latency per query (target <= 3 ms).
# 4. every preset again with the one-pass mma.sync attention (CROSSRANK_CUDA_ATTENTION=mma, a
#    candidate default): checked against the CPU reference, timed and profiled stage by stage;
#    where cuBLASLt opens, the encoders once more with its tanh-GELU epilogue too
#    (CROSSRANK_CUDA_GELU=tanh: the exact GELU's pass saved, tanh-*) and the JavaScript step
#    with both (js-mma);
# 5. where cuBLASLt is found (the loader's path, the CUDA toolkit, or PyTorch's wheels; none
#    is linked at build time), the encoders' default runs their linear layers on it (steps 2
#    and 3), so here the decoder (own kernels by default) runs with cuBLASLt, then the encoders
#    and the JavaScript step again on the own kernels (CROSSRANK_CUDA_GEMM=pipelined); each
#    against the CPU reference and timed; the op harness of step 1 has already checked and
#    timed cuBLASLt beside the own kernels;
# 6. Nsight Compute (ncu) on one launch of each own kernel worth a look (--profile-kernels); the
#    encoders in bf16 (on request) against the CPU reference and PyTorch fp32, without timings;
#    the op harness (--quick) under compute-sanitizer memcheck and racecheck (last: slow).
# Steps run in that order, the most telling first: where the deadline cuts, it cuts the end.
# Prints a short table last. Record the output in bench/GPU_NOTES.md with card, command, date.
#
# The device lease is short, so every step has its own time limit and the whole run a
# deadline (GPU_CHECK_SECONDS, default 540): a step that would start too late is reported
# "not run (time)" instead of being cut off mid-way. Everything printed also goes to
# $OUT/gpu-check.log (or /tmp), with each step's full output in its own file there, so a run
# stopped from outside still leaves what it measured.
set -u
cd "$(dirname "$0")/../.."
# CROSSRANK_CUDA_LIBRARY=build/Release/libcrossrank_cuda_emu.so runs the same steps on the
# CPU emulation: a dry run of this script on a machine without a GPU.
lib=${CROSSRANK_CUDA_LIBRARY:-build/Release/libcrossrank_cuda.so}
ops=build/crossrank_cuda_ops
for f in "$lib" "$ops"; do
  [ -e "$f" ] || { echo "missing $f: run npm run build:native with nvcc on PATH, and carry build/"; exit 2; }
done
logs=${OUT:-/tmp/crossrank-gpu-check}
mkdir -p "$logs"
exec > >(tee -a "$logs/gpu-check.log") 2>&1
deadline=$((SECONDS + ${GPU_CHECK_SECONDS:-540}))
declare -A status

# step NAME LIMIT_S COMMAND...: runs COMMAND with a time limit (never past the deadline),
# its output shown and kept in $logs/NAME.log; status[NAME] = exit code, 124 = timed out.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((deadline - SECONDS))
  if ((left < 20)); then
    echo "== $name: not run (time)"
    status[$name]="not run (time)"
    return
  fi
  ((limit > left)) && limit=$left
  echo "== $name (limit ${limit}s)"
  local began=$SECONDS
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$logs/$name.log"
  status[$name]=${PIPESTATUS[0]}
  [ "${status[$name]}" = 124 ] && echo "($name: stopped at its ${limit}s limit)"
  echo "($name: $((SECONDS - began)) s, $((deadline - SECONDS)) s left)"
}

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | head -4
date -u +"date: %Y-%m-%dT%H:%M:%SZ"

# cuBLASLt: where the loader finds it nothing needs setting; else the first libcublasLt.so.13
# (then .so.12) in the CUDA toolkit or Python's site-packages (PyTorch's nvidia-cublas wheel).
if [ -z "${CROSSRANK_CUBLASLT:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcublasLt\.so\.1[23] '; then
  site=$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null)
  for v in 13 12; do
    found=$(find /usr/local/cuda*/ $site -name "libcublasLt.so.$v" 2>/dev/null | head -1)
    [ -n "$found" ] && { export CROSSRANK_CUBLASLT=$found; break; }
  done
fi
echo "cuBLASLt: ${CROSSRANK_CUBLASLT:-loader path (or none)}"

step ops 120 "$ops" "$lib" --bench

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(minilm-l6 bert-base qwen3-0.6b)
prompts=device-carry/qwen3-prompts.json
for preset in "${presets[@]}"; do
  dir="/tmp/crossrank-gpu-$preset"
  if [[ $preset == qwen3-* && ! -f $prompts ]]; then
    echo "no $prompts: run scripts/device/pack-for-device.sh here first"
    status[model-$preset]=98
    continue
  fi
  step "make-$preset" 180 python3 scripts/device/make_torch_model.py --preset "$preset" --out "$dir"
  if [ "${status[make-$preset]}" != 0 ]; then
    status[model-$preset]="no model"
    continue
  fi
  if [[ $preset == qwen3-* ]]; then
    step "model-$preset" 240 "$ops" "$lib" --qwen3 "$dir" --prompts "$prompts" --dump "$dir/dump.json" --cpu-docs 10
    [ -f "$dir/dump.json" ] && step "torch-$preset" 180 python3 scripts/device/qwen3_compare.py "$dir" "$dir/dump.json" "$prompts"
    # Only if the bf16 default missed: the same parity in fp16 (one query, no timing), which
    # tells bf16 rounding apart from a fault.
    if [[ ${status[model-$preset]:-} != 0 || ${status[torch-$preset]:-} != 0 ]]; then
      step "fp16-$preset" 90 "$ops" "$lib" --qwen3 "$dir" --prompts "$prompts" --dump "$dir/dump-fp16.json" \
        --cpu-docs 10 --element fp16 --queries 1
      [ -f "$dir/dump-fp16.json" ] && step "torch-fp16-$preset" 90 python3 scripts/device/qwen3_compare.py "$dir" \
        "$dir/dump-fp16.json" "$prompts" --parity-only
    fi
  else
    step "model-$preset" 180 "$ops" "$lib" --model "$dir" --dump "$dir/dump.json"
    [ -f "$dir/dump.json" ] && step "torch-$preset" 180 python3 scripts/device/torch_compare.py "$dir" "$dir/dump.json"
  fi
done

if [ -f device-carry/node.xz ]; then
  xz -dc device-carry/node.xz > /tmp/crossrank-node && chmod +x /tmp/crossrank-node
  step js 120 env CROSSRANK_NATIVE="$PWD/build/Release/crossrank.node" CROSSRANK_CUDA_LIBRARY="$PWD/$lib" \
    /tmp/crossrank-node device-carry/dist/cli/main.js bench \
    --preset minilm-l6 --tokenizer device-carry/tokenizer --backend native --device cuda --docs 100 --queries 50 --warmup 5 --cached
fi

# The one-pass mma.sync attention (a candidate for the default, kernels/attention_mma.cu):
# every preset's forward pass again with it, checked against the CPU reference and timed, so
# one run tells whether to switch (the op harness above has checked and timed it alone). These
# runs and tanh-* below also print where each batch shape's GPU time goes, stage by stage
# (CROSSRANK_CUDA_PROFILE=1: "crossrank CUDA profile" lines in their logs).
for preset in "${presets[@]}"; do
  [[ ${status[make-$preset]:-} != 0 ]] && continue
  dir="/tmp/crossrank-gpu-$preset"
  if [[ $preset == qwen3-* ]]; then
    step "mma-$preset" 150 env CROSSRANK_CUDA_ATTENTION=mma CROSSRANK_CUDA_PROFILE=1 "$ops" "$lib" --qwen3 "$dir" \
      --prompts "$prompts" \
      --dump "$dir/dump-mma.json" --cpu-docs 10
  else
    step "mma-$preset" 60 env CROSSRANK_CUDA_ATTENTION=mma CROSSRANK_CUDA_PROFILE=1 "$ops" "$lib" --model "$dir"
  fi
done
# The same with cuBLASLt's GELU epilogue (tanh approximation, CROSSRANK_CUDA_GELU=tanh) in
# place of the exact GELU's pass after each feed-forward's first product, encoders only, where
# cuBLASLt opens: against mma-* it says what the pass costs a forward pass (the op table has
# it per product), against the CPU reference what the approximation costs the scores.
if grep -q '^-- cuBLASLt: cuBLASLt [0-9]' "$logs/ops.log" 2>/dev/null; then
  for preset in "${presets[@]}"; do
    [[ $preset == qwen3-* || ${status[make-$preset]:-} != 0 ]] && continue
    step "tanh-$preset" 60 env CROSSRANK_CUDA_ATTENTION=mma CROSSRANK_CUDA_GELU=tanh CROSSRANK_CUDA_PROFILE=1 \
      "$ops" "$lib" \
      --model "/tmp/crossrank-gpu-$preset"
  done
fi
# The JavaScript step (the <= 3 ms target) again with both candidates.
if [ -x /tmp/crossrank-node ]; then
  step js-mma 90 env CROSSRANK_CUDA_ATTENTION=mma CROSSRANK_CUDA_GELU=tanh \
    CROSSRANK_NATIVE="$PWD/build/Release/crossrank.node" CROSSRANK_CUDA_LIBRARY="$PWD/$lib" \
    /tmp/crossrank-node device-carry/dist/cli/main.js bench --preset minilm-l6 --tokenizer device-carry/tokenizer \
    --backend native --device cuda --docs 100 --queries 50 --warmup 5 --cached
fi

# Where cuBLASLt opens, the encoders' default runs their linear layers on it (above: model-*,
# js), so the own kernels run again here for comparison (own-*, js-own: CROSSRANK_CUDA_GEMM=
# pipelined); the decoder runs on its own kernels by default, so here with cuBLASLt
# (lt-*: on request) — against the CPU reference and timed, the same prompts.
if grep -q '^-- cuBLASLt: cuBLASLt [0-9]' "$logs/ops.log" 2>/dev/null; then
  # The decoder first: whether its batch-invariant plans keep shared = unshared decides whether
  # it can take cuBLASLt; the encoders' own-kernel timings repeat the first run's.
  for preset in "${presets[@]}"; do
    [[ $preset != qwen3-* || ${status[make-$preset]:-} != 0 ]] && continue  # no model written
    step "lt-$preset" 150 env CROSSRANK_CUDA_GEMM=cublaslt "$ops" "$lib" --qwen3 "/tmp/crossrank-gpu-$preset" \
      --prompts "$prompts" --dump "/tmp/crossrank-gpu-$preset/dump-lt.json" --cpu-docs 10
  done
  for preset in "${presets[@]}"; do
    [[ $preset == qwen3-* || ${status[make-$preset]:-} != 0 ]] && continue
    step "own-$preset" 90 env CROSSRANK_CUDA_GEMM=pipelined "$ops" "$lib" --model "/tmp/crossrank-gpu-$preset"
  done
  if [ -x /tmp/crossrank-node ]; then
    step js-own 90 env CROSSRANK_CUDA_GEMM=pipelined CROSSRANK_NATIVE="$PWD/build/Release/crossrank.node" \
      CROSSRANK_CUDA_LIBRARY="$PWD/$lib" /tmp/crossrank-node device-carry/dist/cli/main.js bench \
      --preset minilm-l6 --tokenizer device-carry/tokenizer --backend native --device cuda --docs 100 --queries 50 \
      --warmup 5 --cached
  fi
fi

# What bounds the own kernels (the linear kernel ran at 20-25% of the card's rate on the first
# run, attention at 23-47 TFLOP/s): Nsight Compute's speed-of-light, occupancy and warp-stall
# sections for one launch of each at a forward pass's shapes (the harness's --profile-kernels).
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null || true)
if [ -n "$ncu" ]; then
  step ncu 120 env CROSSRANK_CUBLASLT=off "$ncu" --section SpeedOfLight --section Occupancy \
    --section WarpStateStats --section ComputeWorkloadAnalysis -k 'regex:Linear|Attention|LayerNorm' \
    "$ops" "$lib" --profile-kernels
fi

# Encoders in bf16 (on request; fp16 is their default): parity only.
for preset in "${presets[@]}"; do
  [[ $preset == qwen3-* || ${status[model-$preset]:-} == "no model" ]] && continue
  dir="/tmp/crossrank-gpu-$preset"
  step "bf16-$preset" 60 "$ops" "$lib" --model "$dir" --element bf16 --parity-only --dump "$dir/dump-bf16.json"
  [ -f "$dir/dump-bf16.json" ] && step "torch-bf16-$preset" 60 python3 scripts/device/torch_compare.py "$dir" \
    "$dir/dump-bf16.json" --parity-only
done

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
# --no-grid-limits: the 65,537-sequence cases would take most of a step's time under the
# sanitizers; their chunk boundaries are checked under AddressSanitizer on the emulation.
# cuBLASLt stays out of them (CROSSRANK_CUBLASLT=off): the sanitizers are for our kernels.
if [ -n "$sanitizer" ]; then
  export CROSSRANK_CUBLASLT=off
  step memcheck 150 "$sanitizer" --tool memcheck --error-exitcode 9 "$ops" "$lib" --quick --no-grid-limits
  step racecheck 150 "$sanitizer" --tool racecheck --error-exitcode 9 "$ops" "$lib" --quick --no-grid-limits
fi

verdict() { case "${1:-skipped}" in 0) echo pass ;; 124) echo "FAIL (time limit)" ;; skipped | "not run"*) echo "${1:-skipped}" ;; *) echo "FAIL ($1)" ;; esac; }
echo
echo "| check | result |"
echo "|---|---|"
echo "| ops vs CPU reference | $(verdict "${status[ops]:-}") |"
for preset in "${presets[@]}"; do
  if [[ $preset == qwen3-* ]]; then
    echo "| $preset: CUDA vs CPU reference, shared = unshared | $(verdict "${status[model-$preset]:-}") |"
    echo "| $preset: P(yes) vs Qwen3ForCausalLM fp32, order | $(verdict "${status[torch-$preset]:-}") |"
    [ -n "${status[fp16-$preset]:-}" ] &&
      echo "| $preset in fp16 (run because bf16 missed): vs CPU reference / vs PyTorch fp32 | $(verdict "${status[fp16-$preset]}") / $(verdict "${status[torch-fp16-$preset]:-}") |"
  else
    echo "| $preset: CUDA vs CPU reference | $(verdict "${status[model-$preset]:-}") |"
    echo "| $preset: CUDA vs PyTorch fp32 | $(verdict "${status[torch-$preset]:-}") |"
  fi
done
echo "| minilm-l6, 100 passages, from JavaScript | $(verdict "${status[js]:-}") |"
echo "| cuBLASLt | $(grep -m1 '^-- cuBLASLt:' "$logs/ops.log" 2>/dev/null | cut -c 14- || echo '?') |"
for preset in "${presets[@]}"; do
  [ -n "${status[lt-$preset]:-}" ] &&
    echo "| $preset, cuBLASLt linear layers (on request): CUDA vs CPU reference (timings in lt-$preset.log) | $(verdict "${status[lt-$preset]}") |"
  [ -n "${status[own-$preset]:-}" ] &&
    echo "| $preset, own linear kernels: CUDA vs CPU reference (timings in own-$preset.log) | $(verdict "${status[own-$preset]}") |"
done
[ -n "${status[js-own]:-}" ] && echo "| minilm-l6, 100 passages, from JavaScript, own linear kernels | $(verdict "${status[js-own]}") |"
[ -n "${status[js-mma]:-}" ] &&
  echo "| minilm-l6, 100 passages, from JavaScript, mma attention + tanh GELU (timings in js-mma.log) | $(verdict "${status[js-mma]}") |"
for preset in "${presets[@]}"; do
  [[ $preset == qwen3-* ]] && continue
  echo "| $preset in bf16: vs CPU reference / vs PyTorch fp32 | $(verdict "${status[bf16-$preset]:-}") / $(verdict "${status[torch-bf16-$preset]:-}") |"
done
for preset in "${presets[@]}"; do
  echo "| $preset, mma attention: CUDA vs CPU reference (timings in mma-$preset.log) | $(verdict "${status[mma-$preset]:-}") |"
  [ -n "${status[tanh-$preset]:-}" ] &&
    echo "| $preset, mma attention + cuBLASLt's tanh GELU: CUDA vs CPU reference (timings in tanh-$preset.log) | $(verdict "${status[tanh-$preset]}") |"
done
echo "| Nsight Compute of the own kernels (ncu.log) | $(verdict "${status[ncu]:-}") |"
echo "| memcheck (op harness, --quick) | $(verdict "${status[memcheck]:-}") |"
echo "| racecheck (op harness, --quick) | $(verdict "${status[racecheck]:-}") |"
echo "logs: $logs"
[ "${status[ops]:-1}" = 0 ]
