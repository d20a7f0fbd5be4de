#!/usr/bin/env node
// `npm test`: runs the whole suite with vitest and ends with one line
// "N passed, N failed, N skipped" (CI reads that line). Extra arguments go to vitest,
// e.g. `npm test -- test/unit`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const vitest = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const dir = mkdtempSync(join(tmpdir(), 'crossrank-vitest-'));
const report = join(dir, 'report.json');

const run = spawnSync(
  process.execPath,
  [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests;
  failed = json.numFailedTests;
  skipped = json.numPendingTests + json.numTodoTests;
  // A file that failed to load (syntax error, failing beforeAll) has no test results: count it.
  failed += json.testResults.filter((file) => file.status === 'failed' && file.assertionResults.length === 0).length;
} catch (error) {
  console.error(`could not read the vitest report: ${error.message}`);
  failed = Math.max(failed, 1);
}
rmSync(dir, { recursive: true, force: true });
const status = run.status ?? 1;
if (status !== 0 && failed === 0) failed = 1; // vitest failed outside any test (e.g. global setup)
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status);
