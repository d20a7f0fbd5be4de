/**
 * Finds and loads the native addon. Candidates, in order: $CROSSRANK_NATIVE (an explicit
 * .node path), then what node-gyp-build resolves (a local build in build/Release wins over
 * a prebuilt binary in prebuilds/<platform>-<arch>/). Each failure is collected; when none
 * loads, the error names the platform, every path tried with its error, and the remedy.
 *
 * Loading is lazy and never throws at import: `nativeStatus()` reports, `native()` throws.
 */
import { createRequire } from 'node:module';
import { sep } from 'node:path';

import { errorFromCode, NativeLoadError } from '../errors.js';
import { packageRoot } from '../package-info.js';
import { NATIVE_ABI_VERSION, type NativeBinding } from './binding.js';

const require = createRequire(import.meta.url);

export type NativeKind = 'prebuilt' | 'source' | 'custom';

export interface NativeStatus {
  loaded: boolean;
  /** Path of the loaded binary, or null. */
  path: string | null;
  /** 'prebuilt' (prebuilds/), 'source' (built here by cmake-js) or 'custom' ($CROSSRANK_NATIVE). */
  kind: NativeKind | null;
  /** Why loading failed, when it did. */
  error: string | null;
}

let cached: { binding: NativeBinding | null; status: NativeStatus } | undefined;

function kindOf(path: string, fromEnv: boolean): NativeKind {
  if (fromEnv) return 'custom';
  return path.includes(`${sep}prebuilds${sep}`) ? 'prebuilt' : 'source';
}

function candidates(failures: string[]): { path: string; fromEnv: boolean }[] {
  const list: { path: string; fromEnv: boolean }[] = [];
  const explicit = process.env.CROSSRANK_NATIVE;
  if (explicit) {
    list.push({ path: explicit, fromEnv: true });
    return list; // an explicit choice is not silently replaced by another binary
  }
  try {
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    list.push({ path: nodeGypBuild.resolve(packageRoot), fromEnv: false });
  } catch (error) {
    list.push({ path: `${packageRoot}{build/Release,prebuilds/${process.platform}-${process.arch}}`, fromEnv: false });
    failures.push((error as Error).message.trim());
  }
  return list;
}

function load(): { binding: NativeBinding | null; status: NativeStatus } {
  const failures: string[] = [];
  const tried: string[] = [];
  for (const candidate of candidates(failures)) {
    tried.push(candidate.path);
    try {
      const binding = require(candidate.path) as NativeBinding;
      if (binding.abiVersion !== NATIVE_ABI_VERSION) {
        failures.push(
          `${candidate.path}: native ABI ${binding.abiVersion}, this package needs ${NATIVE_ABI_VERSION} (stale build)`,
        );
        continue;
      }
      binding.setErrorFactory(errorFromCode);
      return {
        binding,
        status: { loaded: true, path: candidate.path, kind: kindOf(candidate.path, candidate.fromEnv), error: null },
      };
    } catch (error) {
      failures.push(`${candidate.path}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const message = [
    `crossrank could not load its native addon on ${process.platform}-${process.arch} (Node ${process.version}, N-API ${process.versions.napi}).`,
    `Tried: ${tried.join(', ')}`,
    ...failures.map((f) => `  - ${f}`),
    'Remedy: reinstall crossrank so the prebuilt binary for your platform is used, or build from source with',
    '`npm rebuild crossrank --build-from-source` (needs cmake >= 3.19 and a C++17 compiler).',
  ].join('\n');
  return { binding: null, status: { loaded: false, path: null, kind: null, error: message } };
}

/** What loading the addon gave, loading it on first call. Never throws. */
export function nativeStatus(): NativeStatus {
  cached ??= load();
  return cached.status;
}

/** The native binding; throws NativeLoadError (with the reasons) when it cannot be loaded. */
export function native(): NativeBinding {
  cached ??= load();
  if (!cached.binding) throw new NativeLoadError(cached.status.error ?? 'native addon not loaded');
  return cached.binding;
}
