import type { Command } from 'commander';
import { relative, resolve } from 'node:path';
import { defaultStepImage } from '../../config.ts';
import { formatPosition, PipelineError, uniqueNotices, type PipelineNotice } from '../../pipeline/errors.ts';
import { includeSourceFromEnv } from '../../pipeline/include-fetch.ts';
import { loadPlans } from '../../pipeline/load.ts';
import type { JobPlan, PlanContainer } from '../../pipeline/plan.ts';
import { action } from '../action.ts';
import { EXIT, type Output } from '../output.ts';
import { assignments, currentBranch, currentCommit, platformsOf, refFacts } from './run.ts';

interface ReadFlags {
  dir: string;
  env: string[];
  branch?: string;
  event: string;
  ref?: string;
  platform: string[];
  image: string;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function withReadOptions(cmd: Command): Command {
  return cmd
    .option('-C, --dir <dir>', 'the repository directory', '.')
    .option('-e, --env <K=V>', 'a variable, as `nestor run -e` gives it (repeatable)', collect, [])
    .option('--branch <name>', 'branch for rules and `when` (default: the checked-out branch)')
    .option('--event <name>', 'event for rules and `when`', 'push')
    .option('--ref <ref>', 'the Git ref for conditions (refs/heads/main, refs/tags/v1.0)')
    .option('-P, --platform <label=image>', 'the image a GitHub runs-on label runs in (repeatable)', collect, [])
    .option('--image <image>', 'image for steps that name none', defaultStepImage(process.env))
    .option('--json', 'one JSON object');
}

/** The plans of `files` (or the conventional file), read as `nestor run` reads them, without running anything. */
function readPlans(files: string[], flags: ReadFlags): JobPlan[] {
  const dir = resolve(flags.dir);
  const branch = flags.branch ?? refFacts(flags.ref).branch ?? currentBranch(dir);
  const commit = currentCommit(dir);
  const opts = { defaultImage: flags.image, ...refFacts(flags.ref), ...(branch ? { branch } : {}), event: flags.event, platforms: platformsOf(flags.platform), env: assignments('--env', flags.env), includes: includeSourceFromEnv(process.env), ...(commit ? { commit } : {}) };
  return files.length === 0 ? loadPlans(dir, undefined, opts) : files.flatMap((f) => loadPlans(dir, f, opts));
}

/** Notices are said once each, not once per matrix job, with their file as problems name it. */
function noticesOf(notices: readonly PipelineNotice[], dir: string): PipelineNotice[] {
  return uniqueNotices(notices).map((n) => ({ ...n, file: shownFile(n.file, dir) }));
}

/** A file as the repository names it when it is in the repository (`-C dir`), else as given. */
function shownFile(file: string, dir: string): string {
  const inRepo = relative(resolve(dir), resolve(file));
  return inRepo && !inRepo.startsWith('..') ? inRepo : relative(process.cwd(), file) || file;
}

function noticeLine(out: Output, n: PipelineNotice): string {
  return `  ${formatPosition(n)}: ${n.severity === 'degraded' ? out.yellow('notice') : 'notice'} ${n.message}`;
}

/** How a container uses its job's Docker engine, in words; undefined when it does not. */
export function engineUseText(c: Pick<PlanContainer, 'engine' | 'mounts'>): string | undefined {
  const ways = [
    ...(c.engine.client ? ['its environment'] : []),
    ...c.mounts.flatMap((m) => (m.kind === 'engine-socket' ? [`its socket at ${m.target}`] : m.kind === 'engine-socket-dir' ? [`its socket's directory at ${m.target}`] : [])),
  ];
  if (!ways.length) return undefined;
  const certs = c.engine.certDirs.length ? `, its client certificates also in ${c.engine.certDirs.join(', ')}` : '';
  return `uses the job's Docker engine (through ${ways.join(' and ')}${certs})`;
}

export function registerLintCommands(program: Command): void {
  withReadOptions(program.command('lint [files...]').description('check pipeline files (any supported format): every problem with file:line:column, and what is approximated')).action(
    action(async (out: Output, files: string[], flags: ReadFlags) => {
      const shown = files.length ? files.join(', ') : 'the pipeline file';
      try {
        const plans = readPlans(files, flags);
        const notices = noticesOf(plans.flatMap((p) => p.notices), flags.dir);
        out.result({ problems: [], notices, jobs: plans.length });
        out.line(`${out.mark(true)} ${shown}: ${plans.length} job(s), no problems${notices.length ? `, ${notices.length} notice(s):` : ''}`);
        for (const n of notices) out.line(noticeLine(out, n));
        return EXIT.ok;
      } catch (err) {
        if (!(err instanceof PipelineError) || err.code === 'NESTOR_PIPELINE_NOT_FOUND') throw err;
        const problems = err.problems.map((p) => ({ ...p.position, file: shownFile(p.position.file, flags.dir), code: p.code ?? err.code, message: p.message, hint: err.hint }));
        const notices = noticesOf(err.notices, flags.dir);
        out.result({ problems, notices, jobs: 0 });
        out.line(`${out.mark(false)} ${problems.length} problem(s):`);
        for (const p of err.problems) out.line(`  ${formatPosition(p.position)}: ${p.message}`);
        out.line(`  ${out.bold('→')} ${err.hint}`);
        if (notices.length) out.line(`${notices.length} notice(s):`);
        for (const n of notices) out.line(noticeLine(out, n));
        return EXIT.failed;
      }
    }),
  );

  withReadOptions(program.command('plan [file]').description('print the compiled pipeline: jobs, steps and their order, images, commands, services and notices')).action(
    action(async (out: Output, file: string | undefined, flags: ReadFlags) => {
      const plans = readPlans(file ? [file] : [], flags);
      out.result({ jobs: plans });
      for (const p of plans) {
        out.line(out.bold(`job ${p.name}`) + (p.title ? ` ${p.title}` : '') + out.dim(` (pipeline ${p.pipeline}${Object.keys(p.matrix).length ? `, matrix ${JSON.stringify(p.matrix)}` : ''})`));
        if (p.engineAliases.length) out.line(`  engine  the job's own Docker engine, also reached as ${p.engineAliases.join(', ')} (the file's docker:dind services)`);
        for (const s of p.services) {
          out.line(`  service ${s.name}  ${s.image}${s.privileged ? out.yellow('  privileged') : ''}`);
          const engine = engineUseText(s);
          if (engine) out.line(out.dim(`    ${engine}`));
        }
        for (const s of p.steps) {
          const after = s.dependsOn.length ? out.dim(` after ${s.dependsOn.join(', ')}`) : '';
          const skipped = s.notRunBecause ? out.dim(` (skipped: ${s.notRunBecause})`) : s.recorded?.decidedBy ? out.dim(` (runs: ${s.recorded.decidedBy})`) : '';
          const where = s.execIn ? `in ${s.execIn}` : s.image;
          out.line(`  step ${s.name}  ${where}${after}${s.privileged ? out.yellow('  privileged') : ''}${skipped}`);
          if (s.github?.uses) out.line(out.dim(`    uses ${s.github.uses}`));
          // A command of several lines (a GitHub `run: |`) keeps its indent under the first.
          for (const line of s.commands ?? []) out.line(out.dim(`    $ ${line.trimEnd().replaceAll('\n', '\n      ')}`));
          if (!s.commands && (s.entrypoint || s.command)) out.line(out.dim(`    runs ${[...(s.entrypoint ?? []), ...(s.command ?? [])].join(' ')}`));
          const engine = engineUseText(s);
          if (engine) out.line(out.dim(`    ${engine}`));
        }
        for (const n of p.notices) out.line(`  ${out.yellow('notice')} ${n.message}`);
      }
      return EXIT.ok;
    }),
  );
}
