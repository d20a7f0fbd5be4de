/**
 * Compiles src/ to dist/ once before the tests, so tests that run the `crossrank` CLI
 * (dist/cli/main.js) exercise the current sources.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

export default function setup(): void {
  const require = createRequire(import.meta.url);
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
