import type { Command } from 'commander';
import { NestorError } from '../../errors.ts';
import { action } from '../action.ts';
import { countFlag } from '../count-flag.ts';
import type { Output } from '../output.ts';
import { call, download, withServer, type ServerFlags } from '../server-call.ts';
import { printJobLog } from './jobs.ts';
import { assignments } from './run.ts';
import { parseDuration } from '../../engine/prune-plan.ts';

type Trigger = { event: string; ref: string; branch?: string; tag?: string; commit: string; message: string; author: string; cause: string; pullRequest?: { number: number } };
type PipelineJob = { id: string; name: string; status: string; runner: string | null; error: string | null; waiting_reason?: string };
type Pipeline = { id: string; repo: string; number: number; status: string; trigger: Trigger; error: string | null; created_at: string; duration_ms?: number; jobs?: PipelineJob[] };

interface ListFlags extends ServerFlags {
  repo?: string;
  branch?: string;
  event?: string;
  status?: string;
  limit?: string;
}

function statusText(out: Output, status: string): string {
  const paint = status === 'succeeded' ? out.green : status === 'failed' ? out.red : status === 'cancelled' || status === 'skipped' ? out.dim : out.yellow;
  return paint(status.padEnd(9));
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '' : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function where(t: Trigger): string {
  if (t.pullRequest) return `PR !${t.pullRequest.number} → ${t.branch ?? ''}`;
  return t.tag ? `tag ${t.tag}` : (t.branch ?? t.ref);
}

/** "REPO NUMBER" or "REPO#NUMBER": a repository's pipeline. */
function pipelineRef(repo: string, number: string | undefined): { repo: string; number: number } {
  const [name, n] = number === undefined ? repo.split('#') : [repo, number];
  const num = Number(n);
  if (!name || !Number.isInteger(num) || num < 1) throw new NestorError('NESTOR_USAGE', `${repo}${number ? ` ${number}` : ''} is not a pipeline`, 'Name it as OWNER/NAME NUMBER (or OWNER/NAME#NUMBER), as `nestor pipelines list` shows.');
  return { repo: name, number: num };
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** `--hold-on-failure 15m` as the API takes it. */
function holdBody(text: string | undefined): { hold_on_failure_s?: number } {
  if (text === undefined) return {};
  const seconds = Math.round(parseDuration(text) / 1000);
  if (seconds < 1 || seconds > 86_400) throw new NestorError('NESTOR_BAD_OPTION', `--hold-on-failure ${text} is not between 1 s and 24 h`, 'A held step keeps its runner\'s slot and engine: give e.g. 15m.');
  return { hold_on_failure_s: seconds };
}

const path = (r: { repo: string; number: number }) => `/api/repos/${encodeURIComponent(r.repo)}/pipelines/${r.number}`;

export function registerPipelinesCommands(program: Command): void {
  const pipelines = program.command('pipelines').description('the pipelines of connected repositories, newest first');

  withServer(pipelines.command('list'))
    .description('list pipelines (filters: --repo, --branch, --event, --status)')
    .option('--repo <owner/name>', 'only this repository\'s')
    .option('--branch <name>', 'only this branch\'s (or tag\'s)')
    .option('--event <event>', 'push, tag, pull_request, cron or manual')
    .option('--status <status>', 'queued, running, succeeded, failed, cancelled…')
    .option('--limit <n>', 'how many', '20')
    .action(action(async (out: Output, flags: ListFlags) => {
      const q = new URLSearchParams({ limit: String(countFlag(flags.limit, 20, '--limit')) });
      for (const k of ['repo', 'branch', 'event', 'status'] as const) if (flags[k]) q.set(k, flags[k]!);
      const { pipelines: list } = await call<{ pipelines: Pipeline[] }>(flags, 'GET', `/api/pipelines?${q}`);
      out.result(list);
      if (!list.length) out.line('no pipelines yet: connect a repository with `nestor repos add URL` and push');
      for (const p of list) {
        const t = p.trigger;
        out.line(`${`${p.repo}#${p.number}`.padEnd(28)} ${statusText(out, p.status)} ${t.event.padEnd(12)} ${where(t).padEnd(20)} ${t.commit.slice(0, 8)}  ${seconds(p.duration_ms).padEnd(9)} ${out.dim(p.created_at.replace('T', ' ').slice(0, 19))}  ${(t.message.split('\n')[0] ?? '').slice(0, 60)}`);
      }
    }));

  withServer(pipelines.command('show').argument('<repo>', 'OWNER/NAME (or OWNER/NAME#NUMBER)').argument('[number]', 'the pipeline\'s number'))
    .description('a pipeline: its trigger and each job')
    .action(action(async (out: Output, repo: string, number: string | undefined, flags: ServerFlags) => {
      const p = await call<Pipeline>(flags, 'GET', path(pipelineRef(repo, number)));
      out.result(p);
      const t = p.trigger;
      out.line(`${out.bold(`${p.repo}#${p.number}`)} ${statusText(out, p.status)} ${t.event} ${where(t)} ${t.commit.slice(0, 12)} by ${t.author || '?'} (${t.cause})`);
      if (t.message) out.line(`  ${t.message.split('\n')[0]}`);
      if (p.error) out.line(out.red(p.error));
      for (const j of p.jobs ?? []) out.line(`  ${statusText(out, j.status)} ${j.name}${j.runner ? out.dim(` on ${j.runner}`) : ''}${j.error ? `  ${out.dim(j.error)}` : ''}${j.waiting_reason ? `  ${out.yellow(j.waiting_reason)}` : ''}`);
    }));

  withServer(pipelines.command('logs').argument('<repo>', 'OWNER/NAME (or OWNER/NAME#NUMBER)').argument('[number]', 'the pipeline\'s number'))
    .option('-f, --follow', 'follow each job\'s log until the pipeline ends (exit code: 0 if it succeeded)')
    .description('the logs of each job of a pipeline')
    .action(action(async (out: Output, repo: string, number: string | undefined, flags: ServerFlags & { follow?: boolean }) => {
      const p = await call<Pipeline>(flags, 'GET', path(pipelineRef(repo, number)));
      if (flags.follow) {
        // Job by job, in the pipeline's order: a later job's lines wait in the store meanwhile.
        for (const j of p.jobs ?? []) {
          out.line(out.bold(`── ${j.name}`));
          const status = await printJobLog(out, flags, j.id, true, '');
          out.line(`${out.dim('──')} ${j.name} ${statusText(out, status)}`);
        }
        const ended = await call<Pipeline>(flags, 'GET', path(pipelineRef(repo, number)));
        out.result({ pipeline: ended.id, status: ended.status });
        out.line(`${out.bold(`${ended.repo}#${ended.number}`)} ${statusText(out, ended.status)}`);
        return ended.status === 'succeeded' ? 0 : 1;
      }
      const all: unknown[] = [];
      for (const j of p.jobs ?? []) {
        const { lines } = await call<{ lines: { source: string; text: string }[] }>(flags, 'GET', `/api/jobs/${j.id}/logs`);
        all.push({ job: j.name, lines });
        out.line(out.bold(`── ${j.name} (${j.status})`));
        for (const l of lines) out.line(`${out.dim(l.source)} ${l.text}`);
      }
      out.result(all);
    }));

  withServer(pipelines.command('cancel').argument('<repo>', 'OWNER/NAME (or OWNER/NAME#NUMBER)').argument('[number]', 'the pipeline\'s number'))
    .description('cancel a pipeline: jobs not started never start, running ones stop within 2 s')
    .action(action(async (out: Output, repo: string, number: string | undefined, flags: ServerFlags) => {
      const ref = pipelineRef(repo, number);
      const p = await call<Pipeline>(flags, 'GET', path(ref));
      const r = await call(flags, 'POST', `/api/jobs/${p.id}/cancel`);
      out.result(r);
      out.line(`${out.mark(true)} ${ref.repo}#${ref.number} cancelled`);
    }));

  withServer(pipelines.command('run').argument('<repo>', 'OWNER/NAME'))
    .description('run a branch\'s (or a commit\'s) pipeline now, as a manual pipeline')
    .option('--branch <name>', 'the branch (default: the repository\'s default branch)')
    .option('--commit <sha>', 'this commit of the branch instead of its head (the full id)')
    .option('-e, --var <K=V>', 'a variable for every step, over the file\'s own; `--var K` takes K from your environment (repeatable)', collect, [])
    .option('--hold-on-failure <duration>', `keep a failed step this long for \`nestor jobs shell\` (e.g. 15m; at most 24h)`)
    .action(action(async (out: Output, repo: string, flags: ServerFlags & { branch?: string; commit?: string; var: string[]; holdOnFailure?: string }) => {
      const body = { ...(flags.branch ? { branch: flags.branch } : {}), ...(flags.commit ? { commit: flags.commit } : {}), variables: assignments('--var', flags.var), ...holdBody(flags.holdOnFailure) };
      const p = await call<Pipeline & { created?: boolean; reason?: string }>(flags, 'POST', `/api/repos/${encodeURIComponent(repo)}/pipelines`, body);
      out.result(p);
      if (p.created === false) {
        out.line(`${out.mark(false)} nothing to run: ${p.reason}`);
        return 1;
      }
      out.line(`${out.mark(true)} ${repo}#${p.number} started on ${where(p.trigger)} (${p.trigger.commit.slice(0, 8)}): nestor pipelines logs ${repo}#${p.number} -f`);
    }));

  withServer(pipelines.command('restart').argument('<repo>', 'OWNER/NAME (or OWNER/NAME#NUMBER)').argument('[number]', 'the pipeline\'s number'))
    .option('--failed', 'only the jobs that did not succeed, and those after them; the others are carried over as they ended')
    .option('--hold-on-failure <duration>', `keep a failed step this long for \`nestor jobs shell\` (e.g. 15m; at most 24h)`)
    .description('run a pipeline again, as a new numbered pipeline of the same commit (the old one is kept)')
    .action(action(async (out: Output, repo: string, number: string | undefined, flags: ServerFlags & { failed?: boolean; holdOnFailure?: string }) => {
      const ref = pipelineRef(repo, number);
      const p = await call<Pipeline & { created?: boolean; reason?: string }>(flags, 'POST', `${path(ref)}/restart`, { failed_only: Boolean(flags.failed), ...holdBody(flags.holdOnFailure) });
      out.result(p);
      if (p.created === false) {
        out.line(`${out.mark(false)} nothing to run: ${p.reason}`);
        return;
      }
      out.line(`${out.mark(true)} ${ref.repo}#${ref.number} restarted as #${p.number}${flags.failed ? ` (${(p.jobs ?? []).filter((j) => j.status !== 'succeeded').length} job(s) run again)` : ''}`);
    }));

  withServer(pipelines.command('play').argument('<repo>', 'OWNER/NAME#NUMBER (or OWNER/NAME NUMBER)').argument('<job-or-number>', 'the manual job (or the number, then the job)').argument('[job]', 'the manual job'))
    .description('start a manual job of a pipeline (GitLab\'s when: manual)')
    .action(action(async (out: Output, repo: string, second: string, third: string | undefined, flags: ServerFlags) => {
      const [ref, job] = third === undefined ? [pipelineRef(repo, undefined), second] : [pipelineRef(repo, second), third];
      const p = await call<Pipeline>(flags, 'POST', `${path(ref)}/jobs/${encodeURIComponent(job)}/play`);
      out.result(p);
      out.line(`${out.mark(true)} ${ref.repo}#${ref.number} ${job} started`);
    }));

  withServer(pipelines.command('approve').argument('<repo>', 'OWNER/NAME (or OWNER/NAME#NUMBER)').argument('[number]', 'the pipeline\'s number'))
    .description('let a pipeline held for approval run (a pull request from a fork: read its changes first, they run with the repository\'s runners)')
    .action(action(async (out: Output, repo: string, number: string | undefined, flags: ServerFlags) => {
      const ref = pipelineRef(repo, number);
      const p = await call<Pipeline>(flags, 'POST', `${path(ref)}/approve`);
      out.result(p);
      out.line(`${out.mark(true)} ${ref.repo}#${ref.number} approved: ${p.status}`);
    }));

  withServer(pipelines.command('artifacts').argument('<repo>', 'OWNER/NAME (or OWNER/NAME#NUMBER)').argument('[number]', 'the pipeline\'s number'))
    .option('--download <job>', 'write that job\'s artifacts (a tar archive) to --output')
    .option('-o, --output <file>', 'where --download writes (default: JOB.tar)')
    .description('what the pipeline\'s jobs kept, or one job\'s archive')
    .action(action(async (out: Output, repo: string, number: string | undefined, flags: ServerFlags & { download?: string; output?: string }) => {
      const p = await call<Pipeline>(flags, 'GET', path(pipelineRef(repo, number)));
      if (flags.download) {
        const file = flags.output ?? `${flags.download.replace(/[^A-Za-z0-9_.-]+/g, '_')}.tar`;
        const bytes = await download(flags, `/api/pipelines/${p.id}/artifacts/${encodeURIComponent(flags.download)}`, file);
        out.result({ job: flags.download, file, bytes });
        out.line(`${out.mark(true)} ${flags.download}: ${bytes} bytes in ${file}`);
        return;
      }
      const { artifacts } = await call<{ artifacts: { job: string; bytes: number; expires_at: string | null }[] }>(flags, 'GET', `/api/pipelines/${p.id}/artifacts`);
      out.result(artifacts);
      if (!artifacts.length) out.line('no artifacts (none kept, or they expired)');
      for (const a of artifacts) out.line(`${a.job.padEnd(32)} ${String(a.bytes).padStart(12)} bytes  ${a.expires_at ? `expires ${a.expires_at}` : 'kept'}`);
    }));
}
