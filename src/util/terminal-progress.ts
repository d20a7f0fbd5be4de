/**
 * One line of progress on stderr, redrawn in place — only when stderr is a terminal (logs and
 * pipes get nothing). Shared by the download and weight-loading progress bars.
 */
export interface TerminalProgressLine {
  /** Whether stderr is a terminal (draw and clear do nothing otherwise). */
  readonly enabled: boolean;
  /** `${prefix} [####....] ${suffix}`, the bar filled to `fraction` (0..1). */
  draw(prefix: string, fraction: number, suffix: string): void;
  /** Erases the line if anything was drawn. */
  clear(): void;
}

export function terminalProgressLine(): TerminalProgressLine {
  const enabled = process.stderr.isTTY === true;
  let drawn = false;
  const width = 24;
  return {
    enabled,
    draw(prefix, fraction, suffix) {
      if (!enabled) return;
      drawn = true;
      const bar = '#'.repeat(Math.round(Math.min(1, Math.max(0, fraction)) * width)).padEnd(width, '.');
      process.stderr.write(`\r\x1b[K${prefix} [${bar}] ${suffix}`);
    },
    clear() {
      if (enabled && drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
