#!/usr/bin/env node
// `npm run prebuild`: builds the prebuilt binaries shipped in the npm package, with
// prebuildify (through scripts/prebuild-shim.mjs, which runs cmake-js), into
// prebuilds/<platform>-<arch>/: crossrank.napi.node and, when nvcc was found,
// libcrossrank_cuda.so beside it (the addon looks for the CUDA library next to itself).
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const prebuildify = require('prebuildify');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const output = join(root, 'build', 'Release');
const target = join(root, 'prebuilds', `${process.platform}-${process.arch}`);

await new Promise((resolve, reject) =>
  prebuildify(
    {
      cwd: root,
      napi: true,
      strip: true,
      targets: [process.versions.node],
      nodeGyp: join(root, 'scripts', 'prebuild-shim.mjs'),
    },
    (error) => (error ? reject(error) : resolve()),
  ),
).catch((error) => {
  console.error(`prebuild failed: ${error.message}`);
  process.exit(1);
});

// prebuildify copies shared libraries it finds next to the addon; copy ours explicitly
// so a change in that behaviour cannot silently ship a package without the CUDA backend.
for (const lib of readdirSync(output).filter((f) => f.endsWith('.so'))) {
  copyFileSync(join(output, lib), join(target, lib));
}

const files = readdirSync(target);
const addon = files.find((f) => f.endsWith('.node'));
if (!addon) {
  console.error(`prebuild: no .node in ${target}`);
  process.exit(1);
}
const cudaBuilt = existsSync(join(output, 'libcrossrank_cuda.so'));
console.log(`prebuilds for ${process.platform}-${process.arch}: ${files.join(', ')}`);
if (!cudaBuilt) console.log('note: built without nvcc, so this prebuild has no CUDA backend');
