import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

import { runCli } from '../helpers.js';

const require = createRequire(import.meta.url);
const packageJson = require('../../package.json') as { version: string };
const ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;

describe('crossrank doctor', () => {
  it('--json has the documented keys and reports this machine truthfully', () => {
    const run = runCli(['doctor', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.version).toBe(packageJson.version);
    expect(report.platform).toBe(`${process.platform}-${process.arch}`);
    expect(report.node).toBe(process.version);
    expect(report.native.loaded).toBe(true);
    expect(['prebuilt', 'source']).toContain(report.native.kind);
    expect(report.native.path).toMatch(/crossrank\.node$|\.node$/);
    // The figure a CPU-reference load checks against: on Linux, at most the machine's memory.
    if (process.platform === 'linux') {
      expect(report.os.availableMemory).toBeGreaterThan(0);
      expect(report.os.availableMemory).toBeLessThanOrEqual(report.os.totalMemory);
    }
    const forced = JSON.parse(runCli(['doctor', '--json'], { CROSSRANK_AVAILABLE_MEMORY: '5000000000' }).stdout);
    expect(forced.os.availableMemory).toBe(5e9);
    expect(typeof report.cuda.available).toBe('boolean');
    expect(typeof report.cuda.reason).toBe('string');
    expect(report.cuda.reason.length).toBeGreaterThan(0);
    expect(Array.isArray(report.cuda.devices)).toBe(true);
    if (!report.cuda.available) {
      expect(['no-driver', 'no-device', 'driver-too-old', 'library-missing', 'init-failed']).toContain(report.cuda.reasonCode);
      expect(report.cuda.devices).toEqual([]);
      expect(report.cuda.cublasLt).toBeNull(); // not opened where no GPU can use it
    } else {
      expect(report.cuda.devices.length).toBeGreaterThan(0);
      expect(report.cuda.devices[0].totalMemory).toBeGreaterThan(0);
    }
    expect(report.onnxruntime.version).toBe(ortVersion);
    expect(report.cpu.cores).toBeGreaterThan(0);
    if (process.arch === 'x64') expect(report.cpu.features).toContain('sse4.2');
  });

  it('prints a readable report', () => {
    const run = runCli(['doctor']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^crossrank \d+\.\d+\.\d+/);
    expect(run.stdout).toMatch(/native\s+loaded, (built from source|prebuilt binary)/);
    expect(run.stdout).toMatch(/cuda\s+(available|not available \([a-z-]+\))/);
    expect(run.stdout).toMatch(/onnxruntime\s+\d+\.\d+\.\d+/);
  });
});

