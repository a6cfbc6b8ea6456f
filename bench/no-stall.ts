// npm run bench:no-stall — what a hostile pipeline costs the server (issue 13, item 5):
// - `^(a+)+$` against 100,000 `a` and a `!` on RE2 (re2js, as pipelines' patterns now run;
//   target ≤ 10 ms), next to JavaScript's RegExp on a short input (25 `a`, BENCH_REDOS_JS_AS)
//   as the baseline, in the same run;
// - /health p99 while a pipeline at the size limit compiles (target ≤ 20 ms), next to /health
//   p99 at rest, against a `nestor server` process of its own (no Docker engine needed).
// The last line is one JSON object, also written to bench/results/no-stall.json.
import { compileRegex } from '../src/pipeline/re2.ts';
import { evaluateRule } from '../src/pipeline/formats/gitlab-rules.ts';
import { DEFAULT_PIPELINE_LIMITS } from '../src/pipeline/limits.ts';
import { sizeLimitPipeline, startServerProcess, submit, timeHealth } from './no-stall-fixture.ts';
import { percentile, report } from './stats.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);
const JS_AS = Number(process.env.BENCH_REDOS_JS_AS ?? 25);
const RUNS = 20;
const COMPILES = Number(process.env.BENCH_NO_STALL_COMPILES ?? 3);

function timed(fn: () => unknown): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}
const round = (ms: number) => Math.round(ms * 100) / 100;

// RE2: the first run includes re2js warming up; the figure is the median of the runs after it.
const long = `${'a'.repeat(100_000)}!`;
const re = compileRegex('^(a+)+$', DEFAULT_PIPELINE_LIMITS);
const re2First = timed(() => re.test(long));
const re2Runs = Array.from({ length: RUNS }, () => timed(() => re.test(long)));
// The same through the GitLab rule reader, as a submission evaluates it (pattern cached after the first).
const ruleRuns = Array.from({ length: RUNS }, () => timed(() => evaluateRule('$V =~ /^(a+)+$/', { V: long })));
log(`re2js: ^(a+)+$ against 100,000 a + !: first ${re2First.toFixed(2)} ms, median ${percentile(re2Runs, 50)} ms; as a GitLab rule median ${percentile(ruleRuns, 50)} ms`);
const jsMs = timed(() => /^(a+)+$/.test(`${'a'.repeat(JS_AS)}!`));
log(`RegExp: ^(a+)+$ against ${JS_AS} a + !: ${jsMs.toFixed(0)} ms`);

const server = await startServerProcess();
let result: Record<string, unknown>;
try {
  const rest = await timeHealth(server.url, { count: 300 });
  const pipeline = sizeLimitPipeline();
  const busy: number[] = [];
  const compileMs: number[] = [];
  for (let i = 0; i < COMPILES; i++) {
    const submitted = submit(server.url, { name: `size-limit-${i}`, pipeline, file: '.nestor.yml' });
    busy.push(...(await timeHealth(server.url, { until: submitted })));
    const r = await submitted;
    if (r.status !== 201) throw new Error(`the size-limit pipeline was refused: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    compileMs.push(r.ms);
  }
  log(`/health p99: ${percentile(rest, 99)} ms at rest, ${percentile(busy, 99)} ms while a ${Buffer.byteLength(pipeline)}-byte pipeline compiled (${busy.length} answers over ${COMPILES} submissions of ${compileMs.map((m) => m.toFixed(0)).join(', ')} ms)`);
  result = {
    bench: 'no-stall',
    re2_redos_100k_ms: percentile(re2Runs, 50),
    re2_redos_100k_first_ms: round(re2First),
    re2_redos_100k_max_ms: round(Math.max(...re2Runs)),
    re2_redos_100k_as_gitlab_rule_ms: percentile(ruleRuns, 50),
    regexp_redos_baseline_ms: round(jsMs),
    regexp_redos_baseline_input: `${JS_AS} a + !`,
    re2_target_ms: 10,
    re2_ok: percentile(re2Runs, 50) <= 10,
    health_p99_rest_ms: percentile(rest, 99),
    health_p99_compiling_ms: percentile(busy, 99),
    health_max_compiling_ms: round(Math.max(...busy)),
    health_answers_compiling: busy.length,
    health_target_ms: 20,
    health_ok: percentile(busy, 99) <= 20,
    pipeline_bytes: Buffer.byteLength(pipeline),
    pipeline_steps: DEFAULT_PIPELINE_LIMITS.steps - 100,
    submit_ms: compileMs.map(round),
  };
} finally {
  await server.stop();
}
report('no-stall', result);
