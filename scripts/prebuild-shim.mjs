#!/usr/bin/env node
// prebuildify only knows node-gyp: it runs `<node-gyp> rebuild --target=… --arch=… --release`.
// This stand-in does the same job with cmake-js. The addon is Node-API (ABI-stable), so
// the target version does not matter; the architecture and build type do.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
if (args[0] !== 'rebuild') {
  console.error(`prebuild-shim: unsupported command ${args[0]} (only "rebuild")`);
  process.exit(2);
}
const arch = args.find((a) => a.startsWith('--arch='))?.slice('--arch='.length);
if (arch && arch !== process.arch) {
  console.error(`prebuild-shim: cross-compiling to ${arch} is not supported; build on a ${arch} machine`);
  process.exit(2);
}
const buildType = args.includes('--debug') ? 'Debug' : 'Release';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], {
  stdio: 'inherit',
  env: { ...process.env, CROSSRANK_BUILD_TYPE: buildType },
});
process.exit(run.status ?? 1);
