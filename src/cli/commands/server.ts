import { Command, Option } from 'commander';
import { hostname } from 'node:os';
import { countFlag } from '../count-flag.ts';
import { dataDir, repoCacheDir, defaultMaxJobs, defaultStepImage, engineImages, insecureRegistries, localRepoRoots, portNumber, secretKey, stepSlots, retentionDays } from '../../config.ts';
import { sshLogin } from '../../engine/docker-host.ts';
import { ImageSupply } from '../../engine/images/supply.ts';
import { givesHostRoot, ISOLATION_MODES, type IsolationMode } from '../../engine/nested/isolation.ts';
import { NestorError } from '../../errors.ts';
import { RunnerAgent, type AgentOptions } from '../../runner/agent.ts';
import { DEFAULT_HTTP_LIMITS } from '../../server/http-limits.ts';
import { startServer } from '../../server/server.ts';
import { action, hostEngine } from '../action.ts';
import { withLifecycle, type Lifecycle } from '../lifecycle.ts';
import { makeLogger, withLogOptions, type LogFlags, type LogFormat, type LogLevel } from '../logger.ts';
import type { Logger } from 'pino';
import type { EngineClient } from '../../engine/engine-client.ts';
import type { GitopsConfig } from '../../gitops/service.ts';
import { errorMessage } from '../../errors.ts';
import type { Output } from '../output.ts';
import { runnerLabels } from '../../runner/runner-labels.ts';
import { readFileSync } from 'node:fs';
import { parseRunnerConfig, RunnerConfigError } from '../../runner/runner-config.ts';
import { effectiveRunnerSettings, shownSettings, type EffectiveRunnerSettings, type ExplicitRunnerFlags } from '../../runner/runner-settings.ts';
import { EXIT } from '../output.ts';

export interface ServerFlags extends LogFlags {
  port: string;
  host: string;
  maxConnections: string;
  headersTimeout: string;
  requestTimeout: string;
  dataDir?: string;
  leaseSeconds: string;
  logCapMb: string;
  gitops: boolean;
  functionsPort?: string;
}

interface RunnerFlags extends LogFlags {
  config?: string;
  check?: boolean;
  json?: boolean;
  server?: string;
  token?: string;
  name: string;
  maxJobs: string;
  labels: string;
  mode: IsolationMode;
  trusted?: boolean;
  warm?: string;
}

/**
 * The runner's settings: the flags and NESTOR_* variables given (commander says which were),
 * over the --config file, over the defaults. The file is read knowing whether --trusted was
 * given, which allows what it refuses an untrusted runner.
 */
function runnerConfiguration(flags: RunnerFlags, cmd: Command, env: NodeJS.ProcessEnv): EffectiveRunnerSettings {
  const sourceOf = (key: string): 'flag' | 'env' | undefined => {
    const s = cmd.getOptionValueSource(key);
    return s === 'cli' ? 'flag' : s === 'env' ? 'env' : undefined;
  };
  const explicit: ExplicitRunnerFlags = {};
  const sources: Partial<Record<keyof ExplicitRunnerFlags, 'flag' | 'env'>> = {};
  const give = <K extends keyof ExplicitRunnerFlags>(key: K, option: string, value: () => ExplicitRunnerFlags[K]) => {
    const source = sourceOf(option);
    if (source === undefined) return;
    explicit[key] = value();
    sources[key] = source;
  };
  give('server', 'server', () => flags.server);
  give('token', 'token', () => flags.token);
  give('name', 'name', () => flags.name);
  give('maxJobs', 'maxJobs', () => countFlag(flags.maxJobs, defaultMaxJobs(), '--max-jobs'));
  give('labels', 'labels', () => flags.labels.split(',').map((l) => l.trim()).filter(Boolean));
  give('mode', 'mode', () => flags.mode);
  give('trusted', 'trusted', () => Boolean(flags.trusted));
  give('warm', 'warm', () => countFlag(flags.warm, 0, '--warm', 0));
  give('logLevel', 'logLevel', () => flags.logLevel);
  give('logFormat', 'logFormat', () => flags.logFormat);
  if (env.NESTOR_DEFAULT_IMAGE) (explicit.stepImage = env.NESTOR_DEFAULT_IMAGE), (sources.stepImage = 'env');
  if (insecureRegistries(env).length) (explicit.insecureRegistries = insecureRegistries(env)), (sources.insecureRegistries = 'env');
  const file = flags.config ? parseRunnerConfig(flags.config, readConfig(flags.config), env, { trusted: explicit.trusted === true }) : undefined;
  return effectiveRunnerSettings(file, explicit, sources, { name: hostname(), maxJobs: defaultMaxJobs(), stepImage: defaultStepImage(env) });
}

function readConfig(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new NestorError('NESTOR_USAGE', `Cannot read the runner configuration ${path}: ${errorMessage(err)}`, 'Give --config the path of an existing runner.yaml (docs/runner.md has an example).');
  }
}

/**
 * `up` is one person's server and its runner on one machine: it listens on loopback unless
 * told otherwise. `server` serves runners on other machines, so it listens on every address.
 */
function serverOptions(cmd: Command, defaultHost: '127.0.0.1' | '0.0.0.0'): Command {
  const reach = defaultHost === '127.0.0.1' ? 'the default reaches this machine only (0.0.0.0: every address)' : 'the default is every address, for runners on other machines (127.0.0.1: this machine only)';
  return withLogOptions(cmd)
    .addOption(new Option('--port <port>', 'HTTP port').default('8080').env('NESTOR_PORT'))
    .addOption(new Option('--host <address>', `address to listen on; ${reach}`).default(defaultHost).env('NESTOR_HOST'))
    .addOption(new Option('--max-connections <n>', 'connections open at once; more are refused').default(String(DEFAULT_HTTP_LIMITS.maxConnections)).env('NESTOR_MAX_CONNECTIONS'))
    .addOption(new Option('--headers-timeout <seconds>', 'time a client has to send its request headers').default(String(DEFAULT_HTTP_LIMITS.headersTimeoutMs / 1000)).env('NESTOR_HEADERS_TIMEOUT'))
    .addOption(new Option('--request-timeout <seconds>', 'time a client has to send its whole request, body included').default(String(DEFAULT_HTTP_LIMITS.requestTimeoutMs / 1000)).env('NESTOR_REQUEST_TIMEOUT'))
    .addOption(new Option('--data-dir <dir>', 'where the embedded store lives (default ~/.nestor)').env('NESTOR_DATA_DIR'))
    .addOption(new Option('--lease-seconds <s>', 'runner lease without heartbeat').default('30').env('NESTOR_LEASE_SECONDS'))
    .addOption(new Option('--log-cap-mb <n>', 'most MB of log kept per job attempt (what passes it is counted)').default('64').env('NESTOR_LOG_CAP_MB'))
    .option('--no-gitops', 'do not watch applications or serve functions (no Docker engine needed)')
    .addOption(new Option('--functions-port <port>', 'also serve functions alone at /NAMESPACE/PATH on this port').env('NESTOR_FUNCTIONS_PORT'));
}

/** GitOps needs an engine for builds and functions; the host's, with its image supply. */
export function gitopsConfig(host: EngineClient, supply: ImageSupply): GitopsConfig {
  const key = secretKey(process.env);
  return {
    host,
    supply,
    // Git runs in the server's own environment; ssh:// targets are reached with its agent and key.
    gitEnv: process.env,
    sshLogin: sshLogin(process.env),
    engineImages: engineImages(process.env),
    ...(process.env.NESTOR_FUNCTIONS_REGISTRY ? { registry: process.env.NESTOR_FUNCTIONS_REGISTRY } : {}),
    ...(process.env.NESTOR_WEBHOOK_SECRET ? { webhookSecret: process.env.NESTOR_WEBHOOK_SECRET } : {}),
    ...(process.env.NESTOR_BUILD_ENGINES ? { buildWarm: Number(process.env.NESTOR_BUILD_ENGINES) } : {}),
    ...(insecureRegistries(process.env).length ? { insecureRegistries: insecureRegistries(process.env) } : {}),
    // Where the admin may name local repositories (NESTOR_LOCAL_REPO_ROOTS), and the key that
    // seals credentials at rest (NESTOR_SECRET_KEY, else a key file in the data directory).
    localRepoRoots: localRepoRoots(process.env),
    ...(key ? { secretKey: key } : {}),
  };
}

/** What a runner takes from the environment: the default step image and slots, and the engines' images. */
export function runnerSettings(env: NodeJS.ProcessEnv): Pick<AgentOptions, 'stepImage' | 'stepSlots' | 'engineImages' | 'insecureRegistries' | 'repoCacheDir' | 'gitEnv'> {
  return { stepImage: defaultStepImage(env), stepSlots: stepSlots(env), engineImages: engineImages(env), insecureRegistries: insecureRegistries(env), repoCacheDir: repoCacheDir(env), gitEnv: env };
}

/**
 * A runner takes jobs from anyone who may submit them, so a mode in which a job can become root
 * on the host is the operator's explicit choice, never a default.
 */
export function requireTrustFor(mode: IsolationMode, trusted: boolean): void {
  if (!givesHostRoot(mode) || trusted) return;
  throw new NestorError(
    'NESTOR_USAGE',
    `--mode ${mode} gives every job root on this host, and this runner is not marked trusted`,
    'Leave --mode at auto (a rootless engine per job), or add --trusted (NESTOR_RUNNER_TRUSTED=1) if only work you trust reaches this runner.',
  );
}

/** Starts the server and says, once, how to authenticate: the tokens made now, or how to mint one. */
export async function serve(out: Output, flags: ServerFlags, logger: Logger, gitops?: GitopsConfig) {
  const dir = dataDir(process.env, flags.dataDir);
  const server = await startServer({
    ...(gitops ? { gitops } : {}),
    port: Number(flags.port),
    host: flags.host,
    http: {
      maxConnections: Number(flags.maxConnections),
      headersTimeoutMs: Number(flags.headersTimeout) * 1000,
      requestTimeoutMs: Number(flags.requestTimeout) * 1000,
    },
    ...(flags.functionsPort !== undefined ? { functionsPort: portNumber(flags.functionsPort, '--functions-port (NESTOR_FUNCTIONS_PORT)') } : {}),
    dataDir: dir,
    ...(process.env.NESTOR_DATABASE_URL ? { databaseUrl: process.env.NESTOR_DATABASE_URL } : {}),
    leaseMs: Number(flags.leaseSeconds) * 1000,
    logCapBytes: Math.max(1, Number(flags.logCapMb) || 64) * 1024 * 1024,
    ...(process.env.NESTOR_ADMIN_TOKEN ? { adminToken: process.env.NESTOR_ADMIN_TOKEN } : {}),
    ...(process.env.NESTOR_REGISTRATION_TOKEN ? { registrationToken: process.env.NESTOR_REGISTRATION_TOKEN } : {}),
    // Repositories: git in the server's own environment, secrets sealed with its key, statuses linking to its public URL.
    gitEnv: process.env,
    ...(secretKey(process.env) ? { secretKey: secretKey(process.env)! } : {}),
    ...(process.env.NESTOR_PUBLIC_URL ? { publicUrl: process.env.NESTOR_PUBLIC_URL } : {}),
    retentionDays: retentionDays(process.env),
    logger,
  });
  if (server.generated.admin) out.progress(`admin token (shown once, store it now): ${server.generated.admin}`);
  else if (!process.env.NESTOR_ADMIN_TOKEN) out.progress(`admin token: shown at first start only (stored as a hash); mint another with: ${mintCommand(dir)}`);
  if (server.generated.registration) out.progress(`runner registration token (shown once): ${server.generated.registration}`);
  return server;
}

/** The command that makes a new admin token, for someone with access to the data directory. */
export function mintCommand(dir: string): string {
  const where = process.env.NESTOR_DATABASE_URL ? '--database-url "$NESTOR_DATABASE_URL"' : `--data-dir ${shellQuote(dir)}`;
  return `nestor token create ${where}`;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The image supply and, unless --no-gitops, the GitOps controller's configuration. */
async function gitopsParts(out: Output, life: Lifecycle, flags: ServerFlags): Promise<GitopsConfig | undefined> {
  if (!flags.gitops) return undefined;
  try {
    const host = await hostEngine();
    const supply = life.own(await ImageSupply.start(host), 'the image supply', (s) => s.close());
    return gitopsConfig(host, supply);
  } catch (err) {
    out.progress(`GitOps and functions are off: ${errorMessage(err)} (start a Docker engine, or pass --no-gitops to silence this)`);
    return undefined;
  }
}

export function registerServerCommands(program: Command): void {
  serverOptions(program.command('server').description('the HTTP API, the store and the job queue'), '0.0.0.0')
    .action(action(async (out: Output, flags: ServerFlags) =>
      withLifecycle(out, async (life) => {
        const logger = makeLogger(flags);
        const gitops = await gitopsParts(out, life, flags);
        life.check();
        life.own(await serve(out, flags, logger, gitops), 'the server', (s) => s.close());
        await life.untilSignal();
        return 0;
      })));

  withLogOptions(program
    .command('runner'))
    .description('take jobs from a server and run each in its own nested engine')
    .addOption(new Option('--config <file>', 'runner.yaml: the runner\'s settings (docs/runner.md); flags and NESTOR_* variables given win over it').env('NESTOR_RUNNER_CONFIG'))
    .option('--check', 'check the --config file (and flags), print the settings the runner would use, and exit')
    .option('--json', 'with --check: the settings as JSON')
    .addOption(new Option('--server <url>', 'the server (or server.url in --config)').env('NESTOR_SERVER'))
    .addOption(new Option('--token <token>', 'registration token, or this runner\'s own (or server.token in --config)').env('NESTOR_RUNNER_TOKEN'))
    .addOption(new Option('--name <name>', 'runner name').default(hostname()).env('NESTOR_RUNNER_NAME'))
    .addOption(new Option('--max-jobs <n>', 'jobs at once (default: 3 per core, at most one per 2 GiB, 2 to 8)').default(String(defaultMaxJobs())).env('NESTOR_MAX_JOBS'))
    .addOption(new Option('--labels <list>', 'comma-separated labels jobs can target').default('').env('NESTOR_RUNNER_LABELS'))
    .addOption(new Option('--mode <isolation>', 'engine isolation (auto: the strongest the host offers; dind, dind-caps and socket need --trusted)').choices([...ISOLATION_MODES]).default('auto').env('NESTOR_ENGINE_ISOLATION'))
    .addOption(new Option('--trusted', 'only trusted work reaches this runner: allow modes that give a job root on the host').env('NESTOR_RUNNER_TRUSTED'))
    .addOption(new Option('--warm <n>', 'engines kept started for the next jobs (default: as many as --max-jobs)').env('NESTOR_WARM_ENGINES'))
    .addHelpText('after', `
Precedence, highest first: a flag on the command line, its NESTOR_* variable, the --config
file, Nestor's default. A default shown above applies only when neither a flag, its variable
nor the file sets the value. NESTOR_DEFAULT_IMAGE and NESTOR_INSECURE_REGISTRIES, when set,
win over the file's images.default and engine.insecure_registries.`)
    .action(action(async (out: Output, flags: RunnerFlags, cmd: Command) =>
      withLifecycle(out, async (life) => {
      let settings: EffectiveRunnerSettings;
      try {
        settings = runnerConfiguration(flags, cmd, process.env);
      } catch (err) {
        // A file or flag that cannot be used: the usage exit code, as for a pipeline file's problems.
        if (!(err instanceof RunnerConfigError)) throw err;
        out.error(err);
        return EXIT.usage;
      }
      requireTrustFor(settings.isolation, settings.trusted);
      if (flags.check) {
        if (out.json) out.result(shownSettings(settings));
        else for (const [k, v] of Object.entries(shownSettings(settings))) if (k !== 'from') out.line(`${k}: ${JSON.stringify(v)}${settings.from[k] ? out.dim(` (${settings.from[k]})`) : ''}`);
        return EXIT.ok;
      }
      const host = await hostEngine();
      life.check();
      const supply = life.own(await ImageSupply.start(host), 'the image supply', (s) => s.close());
      life.check();
      const agent = new RunnerAgent({
        ...runnerSettings(process.env),
        server: settings.server,
        token: settings.token,
        name: settings.name,
        maxJobs: settings.maxJobs,
        labels: runnerLabels(settings.labels),
        host,
        supply,
        isolation: settings.isolation,
        warm: settings.warm,
        stepImage: settings.stepImage,
        insecureRegistries: settings.insecureRegistries,
        ...(Object.keys(settings.platforms).length ? { platforms: settings.platforms } : {}),
        engine: settings.engine,
        log: makeLogger({ logLevel: settings.logging.level as LogLevel, logFormat: settings.logging.format as LogFormat }),
      });
      life.own(agent, 'the runner', (a) => a.stop());
      await agent.start();
      await life.untilSignal();
      return 0;
    })));

  serverOptions(program.command('up').description('server and a local runner in one process, with the embedded store; submits a demo job'), '127.0.0.1')
    // Kept light for a first run on a small machine; a runner of its own defaults to its machine's size.
    .addOption(new Option('--max-jobs <n>', 'jobs the local runner takes at once').default('3').env('NESTOR_MAX_JOBS'))
    .addOption(new Option('--warm <n>', 'engines the local runner keeps started for the next jobs').default('1').env('NESTOR_WARM_ENGINES'))
    .option('--no-demo', 'do not submit the demo job')
    .option('--exit-after-demo', 'stop once the demo job has finished (exit code: its result)')
    .action(action(async (out: Output, flags: ServerFlags & { demo: boolean; exitAfterDemo?: boolean; maxJobs: string; warm: string }) => {
      const { up } = await import('../up.ts');
      return up(out, flags);
    }));
}
