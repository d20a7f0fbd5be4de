/**
 * `crossrank doctor`: what this installation can do and, where something is missing, why.
 * Never throws: every probe that fails is reported as such.
 */
import { createRequire } from 'node:module';
import { cpus, release, totalmem } from 'node:os';

import type { NativeCudaDevice } from './native/binding.js';
import { cudaGeluSetting, cudaGemmSetting } from './backends/cuda-linear-engine.js';
import { native, nativeStatus, type NativeKind } from './native/load.js';
import { packageVersion } from './package-info.js';

const require = createRequire(import.meta.url);

export interface DoctorReport {
  version: string;
  platform: string;
  node: string;
  /** availableMemory: what a CPU-reference load may take (MemAvailable within a cgroup limit); null when unknown. */
  os: { release: string; totalMemory: number; availableMemory: number | null };
  cpu: { model: string; cores: number; features: string[] };
  native: { loaded: boolean; kind: NativeKind | null; path: string | null; builtWithCuda: boolean | null; error: string | null };
  cuda: {
    available: boolean;
    reasonCode: string;
    reason: string;
    libraryPath: string | null;
    driverVersion: string | null;
    runtimeVersion: string | null;
    devices: NativeCudaDevice[];
    /** Whether cuBLASLt opens (then it runs the encoders' linear layers, or as CROSSRANK_CUDA_GEMM says); null: not checked. */
    cublasLt: { available: boolean; detail: string } | null;
  };
  onnxruntime: { version: string | null; backends: string[]; error: string | null };
}

function cudaVersionText(v: number): string | null {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : null;
}

async function onnxRuntimeInfo(): Promise<DoctorReport['onnxruntime']> {
  try {
    const ort = (await import('onnxruntime-node')) as unknown as {
      env: { versions?: { node?: string; common?: string } };
      listSupportedBackends?: () => { name: string; bundled: boolean }[];
    };
    const version = ort.env.versions?.node ?? (require('onnxruntime-node/package.json') as { version: string }).version;
    const backends = (ort.listSupportedBackends?.() ?? []).filter((b) => b.bundled).map((b) => b.name);
    return { version, backends, error: null };
  } catch (error) {
    return { version: null, backends: [], error: (error as Error).message.split('\n')[0] };
  }
}

export async function doctorReport(): Promise<DoctorReport> {
  const status = nativeStatus();
  const cpuList = cpus();
  const report: DoctorReport = {
    version: packageVersion,
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    os: { release: release(), totalMemory: totalmem(), availableMemory: null },
    cpu: { model: cpuList[0]?.model.trim() ?? 'unknown', cores: cpuList.length, features: [] },
    native: { loaded: status.loaded, kind: status.kind, path: status.path, builtWithCuda: null, error: status.error },
    cuda: {
      available: false,
      reasonCode: 'native-not-loaded',
      reason: 'the native addon did not load',
      libraryPath: null,
      driverVersion: null,
      runtimeVersion: null,
      devices: [],
      cublasLt: null,
    },
    onnxruntime: await onnxRuntimeInfo(),
  };
  if (status.loaded) {
    const binding = native();
    report.cpu.features = binding.cpuFeatures();
    report.os.availableMemory = binding.availableMemory() || null;
    report.native.builtWithCuda = binding.builtWithCuda;
    const cuda = await binding.cudaInfo();
    report.cuda = {
      available: cuda.available,
      reasonCode: cuda.reasonCode,
      reason: cuda.reason,
      libraryPath: cuda.libraryPath,
      driverVersion: cudaVersionText(cuda.driverVersion),
      runtimeVersion: cudaVersionText(cuda.runtimeVersion),
      devices: cuda.devices,
      // Only where a GPU is usable: opening cuBLASLt (hundreds of MB) for nothing is no help.
      cublasLt: cuda.available ? await binding.cublasLtInfo() : null,
    };
  }
  return report;
}

/** What the native CUDA engine does with cuBLASLt where it opens, by CROSSRANK_CUDA_GEMM. */
function cublasLtUse(): string {
  let setting: string, gelu: string;
  try {
    setting = cudaGemmSetting();
    gelu = cudaGeluSetting() === 'tanh' ? ', GELU in its epilogue as the tanh approximation (CROSSRANK_CUDA_GELU=tanh)' : '';
  } catch (error) {
    return `not used: ${(error as Error).message}`;
  }
  if (setting === 'auto') return `runs the encoders' linear layers (CROSSRANK_CUDA_GEMM=cublaslt: the decoder's too)${gelu}`;
  if (setting === 'cublaslt') return `runs every model's linear layers (CROSSRANK_CUDA_GEMM=cublaslt)${gelu}`;
  return `not used (CROSSRANK_CUDA_GEMM=${setting})`;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

export function formatDoctorReport(r: DoctorReport): string {
  const yes = (ok: boolean) => (ok ? 'yes' : 'no');
  const lines = [
    `crossrank ${r.version}`,
    `platform     ${r.platform} (kernel ${r.os.release}, ${gib(r.os.totalMemory)} RAM${r.os.availableMemory ? `, ${gib(r.os.availableMemory)} available` : ''}), Node ${r.node}`,
    `cpu          ${r.cpu.model}, ${r.cpu.cores} cores${r.cpu.features.length ? `, ${r.cpu.features.join(' ')}` : ''}`,
    `native       ${r.native.loaded ? `loaded, ${r.native.kind === 'prebuilt' ? 'prebuilt binary' : r.native.kind === 'source' ? 'built from source' : 'from $CROSSRANK_NATIVE'}` : 'NOT LOADED'}`,
  ];
  if (r.native.path) lines.push(`             ${r.native.path}`);
  if (r.native.error) lines.push(...r.native.error.split('\n').map((l) => `             ${l}`));
  lines.push(`cuda         ${r.cuda.available ? 'available' : `not available (${r.cuda.reasonCode})`}`);
  lines.push(`             ${r.cuda.reason}`);
  if (r.cuda.runtimeVersion) lines.push(`             backend built for CUDA ${r.cuda.runtimeVersion}, driver ${r.cuda.driverVersion ?? 'none'}`);
  for (const d of r.cuda.devices) {
    lines.push(
      `             [${d.index}] ${d.name}, sm_${d.computeCapability.replace('.', '')}, ${gib(d.freeMemory)} free of ${gib(d.totalMemory)}, ${d.multiprocessors} SMs` +
        (d.supported ? '' : ' — NOT SUPPORTED (the CUDA kernels need compute capability 8.0+)'),
    );
  }
  if (r.cuda.cublasLt) {
    lines.push(
      r.cuda.cublasLt.available
        ? `cublaslt     ${r.cuda.cublasLt.detail}, ${cublasLtUse()}`
        : `cublaslt     not found: ${r.cuda.cublasLt.detail} (not needed: the engine has its own kernels)`,
    );
  }
  lines.push(
    `onnxruntime  ${r.onnxruntime.version ? `${r.onnxruntime.version} (${r.onnxruntime.backends.join(', ')})` : `not loaded: ${r.onnxruntime.error}`}`,
  );
  lines.push(`ok           native ${yes(r.native.loaded)}, cuda ${yes(r.cuda.available)}, onnxruntime ${yes(r.onnxruntime.version !== null)}`);
  return lines.join('\n');
}
