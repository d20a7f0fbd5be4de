/** Runs the C++ unit tests (native/tests/native_tests.cc), built with the addon. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { repoRoot } from '../helpers.js';

describe('native C++ tests', () => {
  it('pass', () => {
    const exe = join(repoRoot, 'build', 'crossrank_native_tests');
    expect(existsSync(exe), `${exe} is missing: run npm run build:native`).toBe(true);
    const run = spawnSync(exe, { encoding: 'utf8' });
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toContain('0 failure(s)');
  });
});
