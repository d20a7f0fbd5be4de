#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a fixed time.
#   bash scripts/fuzz.sh [seconds per target, default 60] [target ...]
# Targets: safetensors (header parser + tensor reads), shard_index (a sharded checkpoint's
# index), json (the header's JSON reader),
# wordpiece (tokenizer built from fuzzed vocab/config, then pair assembly). Corpora are
# seeded from real files (the shared tokenizer, a synthetic safetensors header) and kept in
# build-fuzz/corpus/<target>; a crash leaves its input in build-fuzz/ and fails the script.
# Keep such an input, once fixed, in native/fuzz/regressions/<target>/ (replayed on every run).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors shard_index json wordpiece)
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
CC=clang CXX=clang++ cmake -S . -B build-fuzz "${generator[@]}" -DCROSSRANK_ADDON=OFF -DCROSSRANK_CUDA=OFF -DCROSSRANK_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

seed() {  # seed corpora from real inputs
  local dir=build-fuzz/corpus/$1
  mkdir -p "$dir"
  case $1 in
    json) printf '{"a":[1,2.5e3,"x\\u00e9"],"b":{"c":null,"d":true}}' >"$dir/seed.json" ;;
    shard_index) printf '{"metadata":{"total_size":16},"weight_map":{"a.weight":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}' >"$dir/seed.json" ;;
    safetensors)
      node -e '
        const h = JSON.stringify({__metadata__: {format: "pt"}, w: {dtype: "F16", shape: [2, 2], data_offsets: [0, 8]}, b: {dtype: "BF16", shape: [2], data_offsets: [8, 12]}});
        const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(h.length));
        process.stdout.write(Buffer.concat([len, Buffer.from(h), Buffer.alloc(12, 0x3c)]));' >"$dir/seed.safetensors" ;;
    wordpiece)
      { printf '\x0f\x00\x02'; head -c 4000 ../shared/tokenizers/bert-base-uncased/vocab.txt 2>/dev/null || printf 'the\ncat\n##s'; printf '\0\0'; printf 'What is a cross-encoder?\0Cross-encoders read query and document together — ﬁnally, 中文 too.'; } >"$dir/seed.txt" ;;
  esac
  echo "$dir"
}

for t in "${targets[@]}"; do
  # Inputs that once found a problem are kept in native/fuzz/regressions/<target> and replayed
  # first: libFuzzer runs files named on its command line once each, without mutating them.
  regressions=(native/fuzz/regressions/"$t"/*)
  if [ -e "${regressions[0]}" ]; then
    (cd build-fuzz && ./fuzz_"$t" "${regressions[@]/#/../}" 2>"fuzz-$t-regressions.log") \
      || { tail -20 "build-fuzz/fuzz-$t-regressions.log" >&2; echo "fuzz: $t FAILS A KEPT REGRESSION INPUT" >&2; exit 1; }
    echo "fuzz: $t replays ${#regressions[@]} kept input(s)"
  fi
  corpus=$(seed "$t")
  echo "fuzz: $t for ${seconds}s"
  (cd build-fuzz && ./fuzz_"$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "../$corpus" 2>"fuzz-$t.log") || { tail -40 "build-fuzz/fuzz-$t.log" >&2; echo "fuzz: $t FOUND A PROBLEM (input saved in build-fuzz/)" >&2; exit 1; }
  grep -E 'stat::number_of_executed_units|cov:' "build-fuzz/fuzz-$t.log" | tail -2
done
echo "fuzz: no findings"
