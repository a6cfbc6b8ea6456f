#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerEngineCommands } from './commands/engine.ts';
import { registerImagesCommands } from './commands/images.ts';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerPruneCommand } from './commands/prune.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerLintCommands } from './commands/lint.ts';
import { registerServerCommands } from './commands/server.ts';
import { registerAppsCommands } from './commands/apps.ts';
import { registerReposCommands } from './commands/repos.ts';
import { registerPipelinesCommands } from './commands/pipelines.ts';
import { registerSecretsCommands } from './commands/secrets.ts';
import { registerTargetsCommands } from './commands/targets.ts';
import { registerJobsCommands } from './commands/jobs.ts';
import { registerTokenCommands } from './commands/token.ts';
import { EXIT } from './output.ts';
import { runDir } from '../config.ts';
import { setHeartbeatDir } from '../engine/ownership.ts';

const heartbeats = runDir(process.env);
if (heartbeats) setHeartbeatDir(heartbeats);

const program = new Command('nestor')
  .description('Self-hosted CI/CD and GitOps: every job in its own throw-away Docker engine')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerEngineCommands(program);
registerImagesCommands(program);
registerDoctorCommand(program);
registerPruneCommand(program);
registerRunCommand(program);
registerLintCommands(program);
registerServerCommands(program);
registerAppsCommands(program);
registerReposCommands(program);
registerPipelinesCommands(program);
registerSecretsCommands(program);
registerTargetsCommands(program);
registerJobsCommands(program);
registerTokenCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  throw err;
}
