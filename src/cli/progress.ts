/** A one-line progress indicator on stderr, shown only on a terminal. */
export function progressLine(label: string): { update(fraction: number, stage: string): void; done(): void } {
  const tty = process.stderr.isTTY;
  let last = '';
  return {
    update(fraction, stage) {
      if (!tty) return;
      const line = `${label}: ${stage} ${String(Math.floor(fraction * 100)).padStart(3)}%`;
      if (line === last) return;
      last = line;
      process.stderr.write(`\r\x1b[K${line}`);
    },
    done() {
      if (tty && last) process.stderr.write('\r\x1b[K');
    },
  };
}
