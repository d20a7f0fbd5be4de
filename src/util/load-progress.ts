/**
 * Progress of loading a model's weights on the native engine (reading model.safetensors and
 * converting it: seconds for a cross-encoder, up to minutes for an LLM reranker).
 */
import { terminalProgressLine } from './terminal-progress.js';

/** Called after each layer is read and converted. */
export type LoadProgressCallback = (layersLoaded: number, layers: number) => void;

export interface LoadProgress {
  update: LoadProgressCallback;
  done(): void;
}

/**
 * The caller's callback, or by default a progress bar on stderr when it is a terminal (as
 * downloads have). A callback that throws is reported once as a warning and not called again:
 * a load never fails because of its progress display.
 */
export function loadProgress(label: string, callback?: LoadProgressCallback): LoadProgress {
  if (callback) {
    let failed = false;
    return {
      update(layersLoaded, layers) {
        if (failed) return;
        try {
          callback(layersLoaded, layers);
        } catch (error) {
          failed = true;
          process.emitWarning(`onLoadProgress threw (${error instanceof Error ? error.message : String(error)}); it will not be called again`, {
            code: 'CROSSRANK_PROGRESS_CALLBACK',
          });
        }
      },
      done() {},
    };
  }
  const line = terminalProgressLine();
  return {
    update(layersLoaded, layers) {
      line.draw(`${label} loading weights`, layersLoaded / Math.max(1, layers), `${layersLoaded}/${layers} layers`);
    },
    done() {
      line.clear();
    },
  };
}

/** Runs `load` with a progress reporter for `label`, cleared when it ends either way. */
export async function withLoadProgress<T>(
  label: string,
  callback: LoadProgressCallback | undefined,
  load: (update: LoadProgressCallback) => Promise<T>,
): Promise<T> {
  const progress = loadProgress(label, callback);
  try {
    return await load(progress.update);
  } finally {
    progress.done();
  }
}
