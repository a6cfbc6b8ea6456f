import { Command, Option } from 'commander';
import { hostname } from 'node:os';
import pino from 'pino';
import { dataDir } from '../../config.ts';
import { ImageSupply } from '../../engine/images/supply.ts';
import { ISOLATION_MODES, type IsolationMode } from '../../engine/nested/isolation.ts';
import { RunnerAgent } from '../../runner/agent.ts';
import { startServer } from '../../server/server.ts';
import { action, hostEngine } from '../action.ts';
import { untilSignal } from '../signals.ts';
import type { EngineClient } from '../../engine/engine-client.ts';
import type { GitopsConfig } from '../../server/gitops-service.ts';
import { errorMessage } from '../../errors.ts';
import type { Output } from '../output.ts';

interface ServerFlags {
  port: string;
  dataDir?: string;
  leaseSeconds: string;
  gitops: boolean;
}

interface RunnerFlags {
  server: string;
  token: string;
  name: string;
  maxJobs: string;
  labels: string;
  mode: IsolationMode;
  warm: string;
}

function serverOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--port <port>', 'HTTP port').default('8080').env('NESTOR_PORT'))
    .addOption(new Option('--data-dir <dir>', 'where the embedded store lives (default ~/.nestor)').env('NESTOR_DATA_DIR'))
    .addOption(new Option('--lease-seconds <s>', 'runner lease without heartbeat').default('30').env('NESTOR_LEASE_SECONDS'))
    .option('--no-gitops', 'do not watch applications or serve functions (no Docker engine needed)');
}

/** GitOps needs an engine for builds and functions; the host's, with its image supply. */
export function gitopsConfig(host: EngineClient, supply: ImageSupply): GitopsConfig {
  return {
    host,
    supply,
    ...(process.env.NESTOR_FUNCTIONS_REGISTRY ? { registry: process.env.NESTOR_FUNCTIONS_REGISTRY } : {}),
    ...(process.env.NESTOR_WEBHOOK_SECRET ? { webhookSecret: process.env.NESTOR_WEBHOOK_SECRET } : {}),
    ...(process.env.NESTOR_BUILD_ENGINES ? { buildWarm: Number(process.env.NESTOR_BUILD_ENGINES) } : {}),
    ...(process.env.NESTOR_INSECURE_REGISTRIES ? { insecureRegistries: process.env.NESTOR_INSECURE_REGISTRIES.split(',').map((r) => r.trim()).filter(Boolean) } : {}),
  };
}

const log = () => pino({ name: 'nestor', level: process.env.LOG_LEVEL ?? 'info' });

async function serve(out: Output, flags: ServerFlags, gitops?: GitopsConfig) {
  const server = await startServer({
    ...(gitops ? { gitops } : {}),
    port: Number(flags.port),
    dataDir: dataDir(process.env, flags.dataDir),
    ...(process.env.NESTOR_DATABASE_URL ? { databaseUrl: process.env.NESTOR_DATABASE_URL } : {}),
    leaseMs: Number(flags.leaseSeconds) * 1000,
    ...(process.env.NESTOR_ADMIN_TOKEN ? { adminToken: process.env.NESTOR_ADMIN_TOKEN } : {}),
    ...(process.env.NESTOR_REGISTRATION_TOKEN ? { registrationToken: process.env.NESTOR_REGISTRATION_TOKEN } : {}),
    logger: log(),
  });
  if (server.generated.admin) out.progress(`admin token (shown once, store it now): ${server.generated.admin}`);
  if (server.generated.registration) out.progress(`runner registration token (shown once): ${server.generated.registration}`);
  return server;
}

export function registerServerCommands(program: Command): void {
  serverOptions(program.command('server').description('the HTTP API, the store and the job queue'))
    .action(action(async (out: Output, flags: ServerFlags) => {
      let supply: ImageSupply | undefined;
      let gitops: GitopsConfig | undefined;
      if (flags.gitops) {
        try {
          const host = await hostEngine();
          supply = await ImageSupply.start(host);
          gitops = gitopsConfig(host, supply);
        } catch (err) {
          out.progress(`GitOps and functions are off: ${errorMessage(err)} (start a Docker engine, or pass --no-gitops to silence this)`);
        }
      }
      const server = await serve(out, flags, gitops);
      await untilSignal(out, async () => {
        await server.close();
        await supply?.close();
      });
    }));

  program
    .command('runner')
    .description('take jobs from a server and run each in its own nested engine')
    .addOption(new Option('--server <url>', 'the server').env('NESTOR_SERVER').makeOptionMandatory())
    .addOption(new Option('--token <token>', 'registration token (or this runner\'s own)').env('NESTOR_RUNNER_TOKEN').makeOptionMandatory())
    .addOption(new Option('--name <name>', 'runner name').default(hostname()).env('NESTOR_RUNNER_NAME'))
    .addOption(new Option('--max-jobs <n>', 'jobs at once').default('3').env('NESTOR_MAX_JOBS'))
    .addOption(new Option('--labels <list>', 'comma-separated labels jobs can target').default('').env('NESTOR_RUNNER_LABELS'))
    .addOption(new Option('--mode <isolation>', 'engine isolation').choices([...ISOLATION_MODES]).default('auto').env('NESTOR_ENGINE_ISOLATION'))
    .addOption(new Option('--warm <n>', 'engines kept started for the next jobs').default('1').env('NESTOR_WARM_ENGINES'))
    .action(action(async (out: Output, flags: RunnerFlags) => {
      const host = await hostEngine();
      const supply = await ImageSupply.start(host);
      const agent = new RunnerAgent({
        server: flags.server,
        token: flags.token,
        name: flags.name,
        maxJobs: Number(flags.maxJobs),
        labels: flags.labels.split(',').map((l) => l.trim()).filter(Boolean),
        host,
        supply,
        isolation: flags.mode,
        warm: Number(flags.warm),
        log: log(),
      });
      await agent.start();
      await untilSignal(out, async () => {
        await agent.stop();
        await supply.close();
      });
    }));

  serverOptions(program.command('up').description('server and a local runner in one process, with the embedded store; submits a demo job'))
    .option('--no-demo', 'do not submit the demo job')
    .option('--exit-after-demo', 'stop once the demo job has finished (exit code: its result)')
    .action(action(async (out: Output, flags: ServerFlags & { demo: boolean; exitAfterDemo?: boolean }) => {
      const { up } = await import('../up.ts');
      return up(out, flags, (o, f, host, supply) => serve(o, f, f.gitops ? gitopsConfig(host, supply) : undefined));
    }));
}
