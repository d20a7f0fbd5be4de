#!/usr/bin/env node
/** The `crossrank` command line. Each subcommand lives in cli/commands/. */
import { Command, CommanderError } from 'commander';

import { CrossrankError } from '../errors.js';
import { packageVersion } from '../package-info.js';
import { registerBench } from './commands/bench.js';
import { registerCalibrate } from './commands/calibrate.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEval } from './commands/eval.js';
import { registerEvalPipeline } from './commands/eval-pipeline.js';
import { registerExportOnnx } from './commands/export-onnx.js';
import { registerFuse } from './commands/fuse.js';
import { registerIndex } from './commands/index-command.js';
import { registerSearch } from './commands/search.js';
import { registerServe } from './commands/serve.js';
import { registerMakeModel } from './commands/make-model.js';
import { registerMineNegatives } from './commands/mine-negatives.js';
import { registerRerank } from './commands/rerank.js';
import { registerTokenize } from './commands/tokenize.js';
import { exitCodes } from './exit-codes.js';

const program = new Command('crossrank')
  .description('Cross-encoder reranking for Node.js')
  .version(packageVersion)
  .showHelpAfterError()
  .exitOverride();

registerDoctor(program);
registerMakeModel(program);
registerExportOnnx(program);
registerRerank(program);
registerTokenize(program);
registerBench(program);
registerEval(program);
registerEvalPipeline(program);
registerCalibrate(program);
registerMineNegatives(program);
registerFuse(program);
registerIndex(program);
registerSearch(program);
registerServe(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander already printed the message (or help / version).
    process.exitCode = error.exitCode === 0 ? 0 : exitCodes.CROSSRANK_INVALID_ARGUMENT;
  } else if (error instanceof CrossrankError) {
    console.error(`crossrank: ${error.message} [${error.code}]`);
    process.exitCode = exitCodes[error.code] ?? 1;
  } else {
    console.error('crossrank: unexpected error (please report it):', error);
    process.exitCode = 1;
  }
}
