/** A download progress bar on stderr, only on a terminal. */
import { terminalProgressLine } from '../util/terminal-progress.js';

export function downloadProgress(label: string): { update(file: string, done: number, total: number): void; done(): void } {
  const line = terminalProgressLine();
  let lastDraw = 0;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return {
    update(file, done, total) {
      if (!line.enabled) return;
      const now = Date.now();
      if (now - lastDraw < 100 && done !== total) return;
      lastDraw = now;
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      line.draw(`${label} ${file}`, fraction, total > 0 ? `${mb(done)}/${mb(total)} MB` : `${mb(done)} MB`);
    },
    done() {
      line.clear();
    },
  };
}
