import type { Command } from 'commander';
import { action } from '../action.ts';
import { countFlag } from '../count-flag.ts';
import { eventsOf } from '../event-stream.ts';
import type { Output } from '../output.ts';
import { call, withServer, type ServerFlags } from '../server-call.ts';
import { jobShell, type ShellFlags } from './job-shell.ts';

type Job = { id: string; name: string; status: string; runner: string | null; created_at: string; duration_ms?: number; error: string | null; waiting_reason?: string; pipeline?: { id: string; role: string; job?: string } };
type LogLine = { seq: number; source: string; stream: string; text: string };

/** Prints a job's log: what is stored, and with `follow` what comes until the job ends; answers its status. */
export async function printJobLog(out: Output, flags: ServerFlags, jobId: string, follow: boolean, prefix = ''): Promise<string> {
  if (!follow) {
    const { lines, status } = await call<{ lines: LogLine[]; status: string }>(flags, 'GET', `/api/jobs/${jobId}/logs`);
    for (const l of lines) out.line(`${prefix}${out.dim(l.source)} ${l.text}`);
    return status;
  }
  for await (const e of eventsOf(flags, `/api/jobs/${jobId}/logs?follow=1`)) {
    if (e.event === 'log') {
      const l = JSON.parse(e.data) as LogLine;
      out.line(`${prefix}${out.dim(l.source)} ${l.text}`);
    } else if (e.event === 'end') return (JSON.parse(e.data) as { status: string }).status;
  }
  return 'unknown';
}

/** nestor jobs list|logs|cancel: the server's jobs, those of pipelines included. */
export function registerJobsCommands(program: Command): void {
  const jobs = program.command('jobs').description('jobs on the server (each job of a pipeline is one), newest first');
  withServer(jobs.command('list'))
    .option('--status <status>', 'waiting, queued, running, succeeded, failed, cancelled, skipped')
    .option('--limit <n>', 'how many', '30')
    .description('list jobs')
    .action(action(async (out: Output, flags: ServerFlags & { status?: string; limit: string }) => {
      const q = new URLSearchParams({ limit: String(countFlag(flags.limit, 30, '--limit')), ...(flags.status ? { status: flags.status } : {}) });
      const { jobs: list } = await call<{ jobs: Job[] }>(flags, 'GET', `/api/jobs?${q}`);
      out.result(list);
      if (!list.length) out.line('no jobs');
      for (const j of list) out.line(`${j.id}  ${j.status.padEnd(10)} ${(j.pipeline?.job ?? j.name).slice(0, 40).padEnd(40)} ${(j.runner ?? '').padEnd(16)} ${out.dim(j.created_at.replace('T', ' ').slice(0, 19))}${j.waiting_reason ? `  ${out.yellow(j.waiting_reason)}` : ''}`);
    }));
  withServer(jobs.command('logs').argument('<job>', 'the job\'s id'))
    .option('-f, --follow', 'keep printing lines until the job ends (exit code: 0 if it succeeded)')
    .description('a job\'s log')
    .action(action(async (out: Output, id: string, flags: ServerFlags & { follow?: boolean }) => {
      const status = await printJobLog(out, flags, id, Boolean(flags.follow));
      out.result({ job: id, status });
      return flags.follow && status !== 'succeeded' ? 1 : 0;
    }));
  withServer(jobs.command('shell').argument('<job>', 'the job\'s id (nestor jobs list, or a pipeline\'s jobs in nestor pipelines show --json)').argument('[step]', 'the step (default: the one that started last)'))
    .description('an interactive shell in a running step of a job, or in a failed step kept by a run with --hold-on-failure (write access to its repository); exits with the shell\'s code')
    .option('-c, --command <line>', 'run this (through sh -c) instead of a shell')
    .option('-T, --no-tty', 'no terminal, even on one (for scripts: standard input goes in as it is)')
    .action(action(async (out: Output, id: string, step: string | undefined, flags: ShellFlags) => jobShell(out, flags, id, step)));
  withServer(jobs.command('cancel').argument('<job>', 'the job\'s id'))
    .description('cancel a job: not started, it never starts; running, it stops within 2 s')
    .action(action(async (out: Output, id: string, flags: ServerFlags) => {
      const j = await call<Job>(flags, 'POST', `/api/jobs/${id}/cancel`);
      out.result(j);
      out.line(`${out.mark(true)} job ${id} ${j.status === 'cancelled' ? 'cancelled' : 'stopping'}`);
    }));
}
