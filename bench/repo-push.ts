// push_to_first_step: a signed GitHub push webhook → the pushed commit's first step running, next
// to the same one-step job submitted through POST /api/jobs, on the same server and runner.
//
// The measure is the same for both sides: from just before the bench sends its request to the
// `time` of the step's first log line, which the runner stamps when the step prints it (the
// runner runs in this process, so it is the same clock). Lines reach the API in batches; reading
// their own stamp keeps the shipper's flush interval and the bench's polling out of the figure.
import { rmSync } from 'node:fs';
import { api, tempDir } from './server-harness.ts';
import { BenchRepo, githubPush } from './git-fixture.ts';
import { percentile } from './stats.ts';

const REPO = 'bench/push';
const PIPELINE = 'steps:\n  - name: first\n    commands:\n      - echo first\n';
type Line = { source: string; time: number; text: string };

/** From the runner's "engine … ready" notice to the step's line: a push's job also carries its source into the workspace. */
function engineToStep(lines: Line[]): number {
  const ready = lines.find((l) => l.source === 'nestor' && /^engine .* ready in/.test(l.text));
  return ready ? lines.find((l) => l.text === 'first')!.time - ready.time : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The job's line `first` from the step (not the runner's own notices), then the job's end. */
async function firstStepLine(url: string, jobId: string, doneId: string): Promise<Line[]> {
  const lines = await until(`the first step of ${jobId}`, async () => {
    const r = await api<{ lines: Line[] }>(url, 'GET', `/api/jobs/${jobId}/logs`);
    return r.body.lines.some((l) => l.text === 'first' && l.source !== 'nestor') ? r.body.lines : undefined;
  });
  // The next run starts from an idle runner: this one's job (or pipeline) has ended.
  const status = await until(`the end of ${doneId}`, async () => {
    const s = (await api<{ status: string }>(url, 'GET', `/api/jobs/${doneId}`)).body.status;
    return ['succeeded', 'failed', 'cancelled'].includes(s) ? s : undefined;
  });
  if (status !== 'succeeded') throw new Error(`${doneId} ${status}:\n${lines.map((l) => l.text).join('\n')}`);
  return lines;
}

/**
 * `warm` waits for the runner's warm pool to be full, as before each end-to-end run: both sides
 * start from the same idle runner. Pushes and submissions alternate, so drift hits both alike.
 */
export async function pushToFirstStep(url: string, warm: () => Promise<void>, runs = 15): Promise<Record<string, number>> {
  const root = tempDir();
  try {
    const repo = new BenchRepo(root);
    const added = await api<{ webhook: { path: string; secret: string } }>(url, 'POST', '/api/repos', { url: repo.url, name: REPO });
    if (added.status !== 201) throw new Error(`repos add: ${added.status} ${JSON.stringify(added.body)}`);
    const hook = `${url}${added.body.webhook.path}`;

    const push = async (n: number) => {
      const c = repo.commit({ '.nestor.yml': PIPELINE, 'n.txt': `${n}\n` }, `change ${n}`);
      const delivery = githubPush(added.body.webhook.secret, REPO, { ...c, message: `change ${n}` });
      await warm();
      const t0 = Date.now();
      const res = await fetch(hook, { method: 'POST', headers: delivery.headers, body: delivery.body });
      const answered = Date.now() - t0;
      const body = (await res.json()) as { pipeline?: string };
      if (res.status !== 201 && res.status !== 202) throw new Error(`webhook: ${res.status} ${JSON.stringify(body)}`);
      // 202: the server went on without answering (a fetch slower than 8 s); find the pipeline.
      const pipeline = res.status === 201 ? body.pipeline! : await until('the pipeline', async () => {
        const p = (await api<{ pipelines: { id: string; trigger: { commit: string } }[] }>(url, 'GET', `/api/repos/${encodeURIComponent(REPO)}/pipelines?limit=1`)).body.pipelines[0];
        return p?.trigger.commit === c.after ? p.id : undefined;
      });
      const job = await until('the pipeline\'s job', async () => (await api<{ jobs?: { id: string }[] }>(url, 'GET', `/api/jobs/${pipeline}`)).body.jobs?.[0]?.id);
      const lines = await firstStepLine(url, job, pipeline);
      const checkout = /checked out .* in (\d+) ms/.exec(lines.find((l) => l.source === 'nestor' && l.text.startsWith('checked out'))?.text ?? '');
      return { ms: lines.find((l) => l.text === 'first')!.time - t0, answered, checkoutMs: checkout ? Number(checkout[1]) : NaN, engineToStep: engineToStep(lines) };
    };
    const submit = async () => {
      await warm();
      const t0 = Date.now();
      const r = await api<{ id: string }>(url, 'POST', '/api/jobs', { name: 'first', steps: [{ name: 'first', run: 'echo first' }] });
      const answered = Date.now() - t0;
      if (r.status !== 201) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
      const lines = await firstStepLine(url, r.body.id, r.body.id);
      return { ms: lines.find((l) => l.text === 'first')!.time - t0, answered, engineToStep: engineToStep(lines) };
    };

    // Untimed: the server's and the runner's mirrors of the repository are made by the first push.
    await push(0);
    await submit();
    const pushed: Awaited<ReturnType<typeof push>>[] = [];
    const submitted: Awaited<ReturnType<typeof submit>>[] = [];
    for (let i = 1; i <= runs; i++) {
      pushed.push(await push(i));
      submitted.push(await submit());
    }
    const p50 = (xs: number[]) => percentile(xs, 50);
    const push50 = p50(pushed.map((r) => r.ms));
    const api50 = p50(submitted.map((r) => r.ms));
    return {
      push_to_first_step_p50_ms: push50,
      push_to_first_step_p95_ms: percentile(pushed.map((r) => r.ms), 95),
      api_submit_to_first_step_p50_ms: api50,
      api_submit_to_first_step_p95_ms: percentile(submitted.map((r) => r.ms), 95),
      push_to_first_step_ratio: Math.round((push50 / api50) * 100) / 100,
      // Where a push's extra time goes: the webhook's answer (the server's fetch, compile and
      // queueing), then the runner's checkout of the commit before the job's engine runs it.
      push_webhook_answer_p50_ms: p50(pushed.map((r) => r.answered)),
      api_submit_answer_p50_ms: p50(submitted.map((r) => r.answered)),
      push_runner_checkout_p50_ms: p50(pushed.map((r) => r.checkoutMs)),
      push_engine_to_first_step_p50_ms: p50(pushed.map((r) => r.engineToStep)),
      api_engine_to_first_step_p50_ms: p50(submitted.map((r) => r.engineToStep)),
      push_runs: runs,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
