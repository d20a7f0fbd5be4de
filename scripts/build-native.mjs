#!/usr/bin/env node
// Builds the native addon (and the CUDA backend library when nvcc is found) with cmake-js.
//
//   node scripts/build-native.mjs            always build
//   node scripts/build-native.mjs --if-needed  (npm install hook) build only when no
//                                             prebuilt or earlier build loads
//
// Options through the environment: CROSSRANK_CUDA=ON|OFF|AUTO, CROSSRANK_CUDA_ARCHS,
// CROSSRANK_BUILD_TYPE=Release|Debug|RelWithDebInfo.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

if (process.argv.includes('--if-needed') && process.env.npm_config_build_from_source !== 'true') {
  try {
    const path = require('node-gyp-build').resolve(root);
    require(path);
    process.exit(0);
  } catch {
    console.log('crossrank: no prebuilt binary for this platform, building from source (needs cmake and a C++ compiler)');
  }
}

const args = [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--directory', root, '--out', join(root, 'build')];
const cuda = process.env.CROSSRANK_CUDA;
if (cuda) args.push(`--CDCROSSRANK_CUDA=${cuda}`);
if (process.env.CROSSRANK_CUDA_ARCHS) args.push(`--CDCROSSRANK_CUDA_ARCHS=${process.env.CROSSRANK_CUDA_ARCHS}`);
if (process.env.CROSSRANK_BUILD_TYPE) args.push('--config', process.env.CROSSRANK_BUILD_TYPE);
for (const extra of process.argv.slice(2).filter((a) => a !== '--if-needed')) args.push(extra);

const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
if (result.status !== 0) {
  console.error(
    '\ncrossrank: the native build failed. It needs cmake >= 3.19 and a C++17 compiler ' +
      '(Debian/Ubuntu: apt-get install cmake g++). See the README, "Building from source".',
  );
}
process.exit(result.status ?? 1);
