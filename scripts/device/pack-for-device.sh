#!/usr/bin/env bash
# Assembles device-carry/ for the GPU machine, which has no Node.js and no registry:
# the node binary (xz), the compiled library (dist/), the native build (build/Release), the
# few runtime packages the native engine needs (not onnxruntime-node, not tokenizers), and
# the bert-base-uncased tokenizer for synthetic models, and the Qwen3-Reranker prompts of five
# TREC DL queries as token ids (the decoder check). With it, scripts/device/gpu-check.sh also
# times reranking end to end from JavaScript.
#
#   npm run build && bash scripts/device/pack-for-device.sh
# then carry `build` and `device-carry` (about 30 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=device-carry
rm -rf "$out"
mkdir -p "$out/node_modules" "$out/tokenizer"
xz -T0 -6 -c "$(command -v node)" > "$out/node.xz"
cp -r dist "$out/dist"
cp package.json "$out/"
for pkg in commander node-gyp-build protobufjs long; do cp -r "node_modules/$pkg" "$out/node_modules/$pkg"; done
tokenizer=${CROSSRANK_TOKENIZER_DIR:-../shared/tokenizers/bert-base-uncased}
cp "$tokenizer"/tokenizer.json "$tokenizer"/tokenizer_config.json "$tokenizer"/vocab.txt "$out/tokenizer/"
node scripts/device/qwen3-prompts.mjs --queries 5 --docs 100 --out "$out/qwen3-prompts.json"
# The GPU machine has nothing above device-carry/: check here that the CLI starts from a copy
# outside this checkout (a package imported at startup but not packed fails right away).
alone=$(mktemp -d)
cp -r "$out" "$alone/"
(cd "$alone" && node device-carry/dist/cli/main.js --help >/dev/null) ||
  { rm -rf "$alone"; echo "device-carry: the CLI does not start on its own (a runtime package missing?)"; exit 1; }
rm -rf "$alone"
du -sh "$out"
