// npm run bench:compare -- --old REF --new REF [--runs 5] [--bench pipeline,engine]
//
// Old and new code side by side: each ref is checked out in a worktree of its own (sharing
// this checkout's node_modules), and the benches run interleaved, old and new alternating
// and swapping who goes first each round, so drift on the machine falls on both alike. Each
// run's figures are divided by that same run's raw baseline (docker run on the same engine),
// and the medians of those ratios are compared: new within 10% of old is the goal.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { report } from './stats.ts';

const { values } = parseArgs({ options: { old: { type: 'string' }, new: { type: 'string', default: 'HEAD' }, runs: { type: 'string', default: '5' }, bench: { type: 'string', default: 'pipeline,engine' } } });
if (!values.old) throw new Error('give --old REF (and --new REF, HEAD by default)');
const root = resolve(new URL('..', import.meta.url).pathname);
const runs = Math.max(1, Number(values.runs));
const benches = values.bench!.split(',').filter(Boolean);
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Each bench's figures to compare, and the baseline each is divided by (from the same run). */
const FIGURES: Record<string, { figure: string; baseline: string }[]> = {
  pipeline: [
    { figure: 'one_step_p50_ms', baseline: 'raw_run_p50_ms' },
    { figure: 'first_step_start_p50_ms', baseline: 'raw_run_p50_ms' },
    { figure: 'dag10_overhead_ms', baseline: 'raw_run_p50_ms' },
  ],
  engine: [
    { figure: 'default_cold_p50_ms', baseline: 'bare_rootless_floor_p50_ms' },
    { figure: 'nested_run_p50_ms', baseline: 'host_run_p50_ms' },
  ],
};

function worktree(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-compare-'));
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', dir, ref], { stdio: 'ignore' });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function runBench(dir: string, bench: string): Record<string, number> {
  // The figures compared are the pipeline's steps part: its GitHub matrix (minutes a run) is
  // left out unless BENCH_ONLY says otherwise (BENCH_ONLY= runs both).
  const env = bench === 'pipeline' ? { ...process.env, BENCH_ONLY: process.env.BENCH_ONLY ?? 'steps' } : process.env;
  const out = execFileSync('node', [join(dir, 'bench', `${bench}.ts`)], { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  const last = out.trim().split('\n').pop()!;
  return JSON.parse(last) as Record<string, number>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const dirs = { old: worktree(values.old), new: worktree(values.new!) };
const samples: Record<string, Record<'old' | 'new', Record<string, number>[]>> = {};
try {
  for (let round = 0; round < runs; round++) {
    for (const bench of benches) {
      const order: ('old' | 'new')[] = round % 2 ? ['new', 'old'] : ['old', 'new'];
      for (const side of order) {
        log(`round ${round + 1}/${runs}: ${bench}, ${side} code`);
        ((samples[bench] ??= { old: [], new: [] })[side]).push(runBench(dirs[side], bench));
      }
    }
  }
} finally {
  for (const dir of Object.values(dirs)) {
    execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

const result: Record<string, unknown> = { old: values.old, new: values.new, runs };
for (const bench of benches) {
  for (const { figure, baseline } of FIGURES[bench] ?? []) {
    const ratio = (side: 'old' | 'new') => median(samples[bench]![side].map((r) => r[figure]! / r[baseline]!));
    const raw = (side: 'old' | 'new') => median(samples[bench]![side].map((r) => r[figure]!));
    const oldRatio = ratio('old');
    const newRatio = ratio('new');
    result[`${bench}.${figure}`] = {
      old_median_ms: Math.round(raw('old') * 10) / 10,
      new_median_ms: Math.round(raw('new') * 10) / 10,
      old_over_baseline: Math.round(oldRatio * 1000) / 1000,
      new_over_baseline: Math.round(newRatio * 1000) / 1000,
      new_vs_old: Math.round((newRatio / oldRatio) * 1000) / 1000,
      within_10_percent: newRatio <= oldRatio * 1.1,
    };
  }
}
report('compare', result);
