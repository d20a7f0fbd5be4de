/**
 * The published package works without a compiler: `npm pack`, then install the tarball
 * into an empty project with a PATH that holds only `node` (no cmake, no C/C++ compiler,
 * no nvcc), and check that the prebuilt binary loads without any build step.
 * Needs `npm run prebuild` to have run (the setup script does it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { repoRoot, tempDir } from '../helpers.js';

const prebuildDir = join(repoRoot, 'prebuilds', `${process.platform}-${process.arch}`);
const npmCli = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');

const dir = tempDir('crossrank-pack-');
const project = join(dir.path, 'consumer');
const bin = join(dir.path, 'bin');
let env: NodeJS.ProcessEnv;

function run(command: string, args: string[], cwd: string) {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 240_000 });
}

beforeAll(() => {
  expect(existsSync(prebuildDir), `${prebuildDir} is missing: run \`npm run prebuild\` first`).toBe(true);
  expect(existsSync(npmCli), `npm not found at ${npmCli}`).toBe(true);
  // A PATH with node and a shell (npm runs lifecycle scripts with sh) and nothing else:
  // no cmake, cc, c++, g++, make or nvcc can be found.
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  env = {
    HOME: process.env.HOME,
    PATH: bin,
    npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? dir.path, '.npm'),
    ONNXRUNTIME_NODE_INSTALL: 'skip',
    npm_config_onnxruntime_node_install: 'skip',
  };
  for (const tool of ['cmake', 'cc', 'c++', 'gcc', 'g++', 'make', 'nvcc']) {
    expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status, `${tool} is visible`).not.toBe(0);
  }
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
}, 300_000);
afterAll(() => dir.cleanup());

describe('npm pack + install without a toolchain', () => {
  let tarball: string;

  // --ignore-scripts: dist/ was just compiled by the global setup; rebuilding it in
  // prepack would rewrite files other tests are reading.
  it('packs the prebuilt binaries and the compiled library', () => {
    const pack = spawnSync(process.execPath, [npmCli, 'pack', '--ignore-scripts', '--json', '--pack-destination', dir.path], {
      cwd: repoRoot,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    expect(pack.status, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir.path, info.filename);
    const paths = info.files.map((f) => f.path);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/cli/main.js');
    for (const file of readdirSync(prebuildDir)) expect(paths).toContain(`prebuilds/${process.platform}-${process.arch}/${file}`);
    expect(paths.some((p) => p.startsWith('test/') || p.startsWith('build/') || p.startsWith('src/'))).toBe(false);
  }, 120_000);

  it('installs with no build step and loads the prebuilt binary', () => {
    const install = run(process.execPath, [npmCli, 'install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], project);
    expect(install.status, install.stderr + install.stdout).toBe(0);
    const installed = join(project, 'node_modules', 'crossrank');
    expect(existsSync(join(installed, 'build')), 'a build directory appeared: something compiled').toBe(false);

    const doctor = run(join(project, 'node_modules', '.bin', 'crossrank'), ['doctor', '--json'], project);
    expect(doctor.status, doctor.stderr).toBe(0);
    const report = JSON.parse(doctor.stdout);
    expect(report.native.loaded).toBe(true);
    expect(report.native.kind).toBe('prebuilt');
    expect(report.native.path).toBe(join(installed, 'prebuilds', `${process.platform}-${process.arch}`, 'crossrank.node'));
    if (report.native.builtWithCuda) expect(report.cuda.reasonCode).not.toBe('library-missing');
    expect(report.cuda.reason.length).toBeGreaterThan(0);

    const use = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { applyScoreHead, InvalidArgumentError } from 'crossrank';
         const scores = await applyScoreHead(Float32Array.from([0]), { numLabels: 1 });
         const typed = await applyScoreHead(new Float32Array(3), { numLabels: 2 }).catch((e) => e instanceof InvalidArgumentError);
         console.log(JSON.stringify({ score: scores[0], typed }));`,
      ],
      project,
    );
    expect(use.status, use.stderr).toBe(0);
    expect(JSON.parse(use.stdout)).toEqual({ score: 0.5, typed: true });
  }, 300_000);
});

