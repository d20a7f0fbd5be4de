/** A download progress bar on stderr, only on a terminal. */
export function downloadProgress(label: string): { update(file: string, done: number, total: number): void; done(): void } {
  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  let drawn = false;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return {
    update(file, done, total) {
      if (!tty) return;
      const now = Date.now();
      if (now - lastDraw < 100 && done !== total) return;
      lastDraw = now;
      drawn = true;
      const width = 24;
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '.');
      const size = total > 0 ? `${mb(done)}/${mb(total)} MB` : `${mb(done)} MB`;
      process.stderr.write(`\r\x1b[K${label} ${file} [${bar}] ${size}`);
    },
    done() {
      if (tty && drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
