#!/usr/bin/env bash
# GPU check, run on a machine with an NVIDIA GPU, the CUDA toolkit and PyTorch + transformers,
# but no Node.js. Build here first (`npm run build:native`, nvcc on PATH), then carry `build/`
# there and run
#   bash scripts/device/gpu-check.sh [presets...]      (default: minilm-l6 bert-base qwen3-0.6b)
# 1. every CUDA op against its CPU reference, timed (native/tests/cuda_ops.cc), then the same
#    under compute-sanitizer (memcheck, racecheck);
# 2. per preset: a synthetic model written by transformers (scripts/device/make_torch_model.py),
#    the CUDA forward pass against the CPU reference and timed at 100 / 1,000 pairs
#    (native/tests/cuda_model.cc), then against PyTorch fp32 logits and PyTorch fp16 SDPA speed
#    (scripts/device/torch_compare.py).
# 2b. per qwen3-* preset (decoder rerankers, issue 8): a synthetic Qwen3ForCausalLM written by
#    transformers, the CUDA decoder against the CPU reference, prefix-shared against unshared
#    and both timed on real TREC DL prompts (device-carry/qwen3-prompts.json, token ids written
#    by scripts/device/qwen3-prompts.mjs; native/tests/cuda_decoder.cc), then P(yes) against
#    transformers fp32 and the speed of PyTorch bf16 with and without a shared prefix cache
#    (scripts/device/qwen3_compare.py).
# 3. if device-carry/ came along (scripts/device/pack-for-device.sh), reranking 100 passages of
#    TREC DL length with minilm-l6 end to end from JavaScript (`crossrank bench`, native
#    engine on CUDA): p50/p95/p99 latency per query (target <= 3 ms).
# Prints a short table last. Record the output in bench/GPU_NOTES.md with card, command, date.
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

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(minilm-l6 bert-base qwen3-0.6b)
prompts=device-carry/qwen3-prompts.json
declare -A model_status torch_status
for preset in "${presets[@]}"; do
  dir="/tmp/crossrank-gpu-$preset"
  echo "== model $preset"
  if [[ $preset == qwen3-* && ! -f $prompts ]]; then
    echo "no $prompts: run scripts/device/pack-for-device.sh here first"; model_status[$preset]=98; continue
  fi
  python3 scripts/device/make_torch_model.py --preset "$preset" --out "$dir" >/tmp/make-model.log 2>&1 ||
    { tail -n 5 /tmp/make-model.log; echo "could not write the $preset model"; model_status[$preset]=99; continue; }
  if [[ $preset == qwen3-* ]]; then
    "$ops" "$lib" --qwen3 "$dir" --prompts "$prompts" --dump "$dir/dump.json" --cpu-docs 10
    model_status[$preset]=$?
    python3 scripts/device/qwen3_compare.py "$dir" "$dir/dump.json" "$prompts"
    torch_status[$preset]=$?
  else
    "$ops" "$lib" --model "$dir" --dump "$dir/dump.json"
    model_status[$preset]=$?
    python3 scripts/device/torch_compare.py "$dir" "$dir/dump.json"
    torch_status[$preset]=$?
  fi
done

js_status=skipped
if [ -f device-carry/node.xz ]; then
  echo "== end to end from JavaScript"
  xz -dc device-carry/node.xz > /tmp/crossrank-node && chmod +x /tmp/crossrank-node
  CROSSRANK_NATIVE="$PWD/build/Release/crossrank.node" /tmp/crossrank-node device-carry/dist/cli/main.js bench \
    --preset minilm-l6 --tokenizer device-carry/tokenizer --backend native --device cuda --docs 100 --queries 50 --warmup 5
  js_status=$?
fi

verdict() { case "$1" in 0) echo pass ;; skipped) echo skipped ;; *) echo "FAIL ($1)" ;; esac; }
echo
echo "| check | result |"
echo "|---|---|"
echo "| ops vs CPU reference | $(verdict $ops_status) |"
echo "| memcheck | $(verdict $memcheck_status) |"
echo "| racecheck | $(verdict $racecheck_status) |"
for preset in "${presets[@]}"; do
  if [[ $preset == qwen3-* ]]; then
    echo "| $preset: CUDA vs CPU reference, shared = unshared | $(verdict "${model_status[$preset]}") |"
    echo "| $preset: P(yes) vs Qwen3ForCausalLM fp32, order | $(verdict "${torch_status[$preset]:-skipped}") |"
  else
    echo "| $preset: CUDA vs CPU reference | $(verdict "${model_status[$preset]}") |"
    echo "| $preset: CUDA vs PyTorch fp32 | $(verdict "${torch_status[$preset]:-skipped}") |"
  fi
done
echo "| minilm-l6, 100 passages, from JavaScript | $(verdict $js_status) |"
[ $ops_status -eq 0 ]
