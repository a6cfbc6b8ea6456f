import { Command, Option } from 'commander';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { NestorError } from '../../errors.ts';
import { defaultStepImage, engineImages, insecureRegistries } from '../../config.ts';
import { ImageSupply } from '../../engine/images/supply.ts';
import { ISOLATION_MODES, type IsolationMode } from '../../engine/nested/isolation.ts';
import { checkPullSecrets } from '../../pipeline/image-pull.ts';
import { selectJobs } from '../../pipeline/select-jobs.ts';
import { includeSourceFromEnv } from '../../pipeline/include-fetch.ts';
import { loadPlans } from '../../pipeline/load.ts';
import { DockerBackend } from '../../backend/docker/docker-backend.ts';
import { runPlans } from '../../runner/run-plans.ts';
import { action, hostEngine } from '../action.ts';
import { EXIT, type Output } from '../output.ts';
import { RunPrinter } from '../run-printer.ts';
import { shellHere } from '../local-shell.ts';
import { LiveSteps } from '../../scheduler/live-steps.ts';
import type { NeededJob } from '../../pipeline/github/step-runtime.ts';
import { parseDuration } from '../../engine/prune-plan.ts';

interface RunFlags {
  dir: string;
  step: string[];
  job: string[];
  env: string[];
  secret: string[];
  mode: IsolationMode;
  branch?: string;
  event: string;
  trusted?: boolean;
  parallel: string;
  holdOnFailure?: string | boolean;
  image: string;
  platform: string[];
  ref?: string;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export class BadAssignmentError extends NestorError {
  constructor(flag: string, value: string) {
    super('NESTOR_USAGE', `${flag} ${value}: expected NAME=VALUE`, `Write it as ${flag} NAME=VALUE (or ${flag} NAME to take the value from your environment).`);
  }
}

/** `K=V` pairs; a bare `K` takes the value from this process's environment. */
/** `--ref refs/tags/v1.0` is also the tag a tag event is about, and `refs/heads/x` the branch. */
export function refFacts(ref: string | undefined): { ref?: string; tag?: string; branch?: string } {
  if (!ref) return {};
  const tag = /^refs\/tags\/(.+)$/.exec(ref)?.[1];
  const branch = /^refs\/heads\/(.+)$/.exec(ref)?.[1];
  return { ref, ...(tag ? { tag } : {}), ...(branch ? { branch } : {}) };
}

/** `-P ubuntu-latest=IMAGE`: the image a GitHub `runs-on` label runs in. */
export function platformsOf(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new NestorError('NESTOR_USAGE', `-P ${v}: expected LABEL=IMAGE`, 'Write it as -P ubuntu-latest=IMAGE: the runs-on label, then the image its jobs run in.');
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export function assignments(flag: string, values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const name = eq < 0 ? v : v.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BadAssignmentError(flag, v);
    const value = eq < 0 ? process.env[name] : v.slice(eq + 1);
    if (value === undefined) throw new BadAssignmentError(flag, v);
    out[name] = value;
  }
  return out;
}

export function currentBranch(dir: string): string | undefined {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--abbrev-ref', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function commitOf(dir: string): { commit?: string } {
  const commit = currentCommit(dir);
  return commit ? { commit } : {};
}

/** The checked-out commit's SHA (GitLab's CI_COMMIT_SHA), when `dir` is a Git checkout with one. */
export function currentCommit(dir: string): string | undefined {
  try {
    const sha = execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

/** `--hold-on-failure`: where failed steps are held, and a shell opened in each on this terminal. */
function holdHere(flag: string | boolean | undefined, say: (text: string) => void): LiveSteps | undefined {
  if (flag === undefined || flag === false) return undefined;
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new NestorError('NESTOR_USAGE', '--hold-on-failure opens a shell on this terminal, and this is not one', 'Run it from a terminal; on a server, run the pipeline with `nestor pipelines run --hold-on-failure` and get in with `nestor jobs shell`.');
  const holdMs = parseDuration(flag === true ? '30m' : flag);
  const live: LiveSteps = new LiveSteps({ holdMs, onHeld: (key) => void shellHere(live, key, say) });
  return live;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run [file]')
    .description('run a pipeline here, each job in its own throw-away nested engine (.nestor.yml, .woodpecker.yml, .drone.jsonnet, .drone.yml, .gitlab-ci.yml, .github/workflows)')
    .option('-C, --dir <dir>', 'the source directory (copied into the workspace)', '.')
    .option('--step <name>', 'run only this step and what it depends on (repeatable)', collect, [])
    .option('--job <name>', 'run only this job (or pipeline) and the jobs it waits for (repeatable)', collect, [])
    .option('-e, --env <K=V>', 'set a variable for every step (repeatable)', collect, [])
    .option('-s, --secret <K=V>', 'give a secret (masked in logs); `--secret K` reads K from your environment (repeatable)', collect, [])
    .addOption(new Option('--mode <isolation>', 'engine isolation').choices([...ISOLATION_MODES]).default('auto').env('NESTOR_ENGINE_ISOLATION'))
    .option('--branch <name>', 'branch for `when` conditions (default: the checked-out branch)')
    .option('--event <name>', 'event for `when` conditions', 'push')
    .option('--ref <ref>', 'the Git ref for conditions and GITHUB_REF (refs/heads/main, refs/tags/v1.0)')
    .option('-P, --platform <label=image>', 'the image a GitHub runs-on label runs in (repeatable)', collect, [])
    .option('--trusted', 'allow host path volumes')
    .option('--hold-on-failure [duration]', 'on a terminal: a step that fails opens a shell in its container, as it was left, before the run goes on (kept at most DURATION, default 30m)')
    .option('--parallel <n>', 'jobs run at once (matrix jobs, pipelines that do not wait for each other)', '2')
    .addOption(new Option('--image <image>', 'image for steps that name none (NESTOR_DEFAULT_IMAGE)').default(defaultStepImage(process.env)))
    .option('--json', 'one JSON object per line: logs, step events, then the result')
    .action(action(async (out: Output, file: string | undefined, flags: RunFlags) => runCommand(out, file, flags)));
}

async function runCommand(out: Output, file: string | undefined, flags: RunFlags): Promise<number> {
  const dir = resolve(flags.dir);
  const secrets = assignments('--secret', flags.secret);
  const branch = flags.branch ?? refFacts(flags.ref).branch ?? currentBranch(dir);
  const compile = (needs?: Record<string, NeededJob>) => loadPlans(dir, file, {
    defaultImage: flags.image,
    ...(branch ? { branch } : {}),
    event: flags.event,
    ...refFacts(flags.ref),
    platforms: platformsOf(flags.platform),
    trusted: Boolean(flags.trusted),
    only: flags.step,
    env: assignments('--env', flags.env),
    secrets: Object.keys(secrets),
    includes: includeSourceFromEnv(process.env),
    ...commitOf(dir),
    ...(needs ? { needs } : {}),
  });
  const plans = selectJobs(compile(), flags.job);
  // Like a secret a step uses, a pull secret not given stops the run before any engine starts.
  checkPullSecrets(plans, Object.keys(secrets));
  const printer = new RunPrinter(out, plans.length > 1);
  const live = holdHere(flags.holdOnFailure, (text) => printer.notice(text));
  // Signals are caught before anything is made: an interrupt at any moment cancels the run,
  // and what it started is removed before the process exits.
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      printer.notice('cancelling: stopping containers and removing the job engines…');
      controller.abort();
    } else {
      printer.notice('second interrupt: leaving now; `nestor engine cleanup` removes anything left');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed terminal is an interrupt too: the run is cancelled and cleaned up, not orphaned.
  process.on('SIGHUP', onSignal);
  let supply: ImageSupply | undefined;
  // A reader that goes away (`nestor run | head`) cancels the run, which still cleans up.
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    printer.close();
    controller.abort();
  };
  process.stdout.on('error', onStdoutError);
  // Notices go to stderr, often into the same pipe (2>&1 | …): its reader going away is the same.
  process.stderr.on('error', onStdoutError);
  try {
    const host = await hostEngine();
    supply = await ImageSupply.start(host);
    supply.onProblem = (image, why) => printer.notice(`image ${image}: ${why}`);
    // Each job in a nested engine of its own, provisioned for it (or the host's, in socket mode).
    const backend = new DockerBackend({ host, supply, isolation: flags.mode, engineImages: engineImages(process.env), insecureRegistries: insecureRegistries(process.env) });
    // What a Nestor killed on this host left (kill -9, a power cut) goes before this run starts.
    const { removed } = await backend.reclaim();
    if (removed.length) printer.notice(`removed ${removed.length} container(s) left by a Nestor process that is gone: ${removed.slice(0, 5).join(', ')}${removed.length > 5 ? ', …' : ''}`);
    const results = await runPlans(plans, {
      backend,
      sourceDir: dir,
      secrets,
      signal: controller.signal,
      parallel: Math.max(1, Number(flags.parallel) || 1),
      onLog: (line) => printer.log(line),
      logsFull: () => printer.full(),
      onEvent: (event) => printer.event(event),
      ...(live ? { live } : {}),
      // A GitHub matrix over the outputs of the jobs it needs: the file compiled again once they have ended.
      expand: (needs) => compile(needs),
    });
    printer.summary(results);
    if (results.some((r) => r.status === 'cancelled')) {
      // Connections to removed engines may linger until TCP gives up; nothing is left to wait for.
      setTimeout(() => process.exit(130), 100).unref();
      return 130;
    }
    // A job skipped because what it waits for failed leaves that failure to say so.
    return results.some((r) => r.status === 'failure' && !r.allowedFailure) ? EXIT.failed : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    await supply?.close();
  }
}
