/** A one-line progress indicator on stderr, shown only on a terminal. */
export function progressLine(label: string): { update(fraction: number, stage: string): void; done(): void } {
  const tty = process.stderr.isTTY;
  let last = -1;
  return {
    update(fraction, stage) {
      if (!tty) return;
      const percent = Math.floor(fraction * 100);
      if (percent === last) return;
      last = percent;
      process.stderr.write(`\r${label}: ${stage} ${String(percent).padStart(3)}%`);
    },
    done() {
      if (tty && last >= 0) process.stderr.write('\r\x1b[K');
    },
  };
}
