import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, JobHandle, JobSpec, OutputSink } from './backend.ts';
import { container, MemoryBackend } from './memory-backend.ts';

const spec: JobSpec = {
  name: 'build',
  workspace: '/workspace',
  steps: [
    { ...container('compile', 'echo compiling\necho done'), detach: false },
    { ...container('test', 'echo 2 failed >&2\nexit 3'), detach: false },
  ],
  services: [{ ...container('db', ''), engine: { client: false, certDirs: [] }, aliases: ['postgres'], ports: [5432] }],
  volumes: [],
  images: ['busybox:latest'],
  engineAliases: ['docker'],
};

/** A sink that collects lines, and is full once, to show the backend waits for it. */
function collector() {
  const lines: string[] = [];
  let waits = 0;
  const sink: OutputSink = {
    line: (stream, text) => void lines.push(`${stream}: ${text}`),
    full: () => (waits++ === 0 ? new Promise<void>((resolve) => setTimeout(resolve, 5)) : undefined),
  };
  return { sink, lines, waits: () => waits };
}

/** The scheduler's part, written against the interface alone: it would run on any backend. */
async function runTwoSteps<J extends JobHandle>(backend: Backend<J>) {
  const controller = new AbortController();
  const notices: string[] = [];
  const job = await backend.setupJob(spec, {
    secrets: {},
    signal: controller.signal,
    notice: (t) => notices.push(t),
    workspace: async function* () {
      yield new TextEncoder().encode('source');
    },
  });
  const quiet: OutputSink = { line: () => undefined, full: () => undefined };
  const db = await backend.startService(job, spec.services[0]!, { sink: quiet, signal: controller.signal, readyWithinMs: 1000 });
  const outputs = spec.steps.map(() => collector());
  const started = await Promise.all(spec.steps.map((s, i) => backend.startStep(job, s, { sink: outputs[i]!.sink, signal: controller.signal })));
  const exits = await Promise.all(started.map((c) => c.wait()));
  await Promise.all(started.map((c) => c.remove()));
  const artifact = await backend.readWorkspace(job, ['dist']);
  let bytes = 0;
  for await (const chunk of artifact) bytes += chunk.length;
  await db.remove();
  await backend.teardownJob(job);
  return { job, notices, exits, outputs, bytes };
}

test('a job is set up, runs a service and two steps, streams their output, and is torn down', async () => {
  const backend = new MemoryBackend();
  // The scheduler holds any backend as a plain `Backend`, whatever its own handle type.
  const anyBackend: Backend = backend;
  assert.deepEqual(await anyBackend.available(), { ok: true, detail: 'in memory' });
  const r = await runTwoSteps(backend);
  assert.match(r.job.id, /^[a-z0-9-]+$/);
  assert.deepEqual(r.notices, ['job build set up in memory']);
  assert.deepEqual(r.exits, [
    { exitCode: 0, oomKilled: false, stopped: false },
    { exitCode: 3, oomKilled: false, stopped: false },
  ]);
  assert.deepEqual(r.outputs[0]!.lines, ['stdout: compiling', 'stdout: done']);
  assert.deepEqual(r.outputs[1]!.lines, ['stderr: 2 failed']);
  assert.ok(r.outputs.every((o) => o.waits() > 0), 'the backend asks whether the sink is full');
  assert.equal(r.bytes, 'source'.length);
  assert.deepEqual(backend.calls, ['setup build', 'service db', 'step compile', 'step test', 'read dist', 'teardown build']);
});

test('a step is stopped by its signal, and a teardown ends what still runs', async () => {
  const backend = new MemoryBackend();
  const job = await backend.setupJob(spec, { secrets: {}, signal: new AbortController().signal, notice: () => undefined });
  const sink: OutputSink = { line: () => undefined, full: () => undefined };
  const timeout = AbortSignal.timeout(5);
  const slow = await backend.startStep(job, { ...container('slow', 'wait'), detach: false }, { sink, signal: timeout });
  assert.deepEqual(await slow.wait(), { exitCode: 137, oomKilled: false, stopped: true });
  assert.equal((timeout.reason as DOMException).name, 'TimeoutError', 'the scheduler tells a timeout from a cancel by the reason');

  const prepared = backend.prepareStep(job, { ...container('server', 'wait'), detach: true });
  const detached = await prepared.start({ sink, signal: new AbortController().signal });
  backend.prepareStep(job, { ...container('skipped', 'echo never'), detach: false }).discard();
  await backend.teardownJob(job);
  assert.equal((await detached.wait()).stopped, true);
  assert.equal(job.live.size, 0);
});
