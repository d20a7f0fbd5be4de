import type { Command } from 'commander';

import { doctorReport, formatDoctorReport } from '../../doctor.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report the platform, the native binary, CUDA and ONNX Runtime, and why anything is unavailable')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const report = await doctorReport();
      console.log(options.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
      // Scripts can test the exit code: 1 when the native addon did not load.
      if (!report.native.loaded) process.exitCode = 1;
    });
}
