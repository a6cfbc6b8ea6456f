import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DockerBackend } from '../../src/backend/docker/docker-backend.ts';
import { DEFAULT_RUNNER_IMAGE, DEFAULT_STEP_IMAGE } from '../../src/config.ts';
import { ImageSupply } from '../../src/engine/images/supply.ts';
import { compileText } from '../../src/pipeline/load.ts';
import { githubJobContainer } from '../../src/pipeline/warm-job-container.ts';
import { runPlans } from '../../src/runner/run-plans.ts';
import type { JobResult, LogLine } from '../../src/scheduler/results.ts';
import { hostEngine } from '../helpers.ts';

// A runner's warm engine starts a GitHub job's container before any job is known; the job
// whose container has the same definition adopts it. Its steps must not be able to tell.
const host = await hostEngine();
const supply = await ImageSupply.start(host);
const backend = new DockerBackend({
  host,
  isolation: 'auto',
  supply,
  warm: { size: 1, stepImage: DEFAULT_STEP_IMAGE, stepSlots: 0, images: [DEFAULT_RUNNER_IMAGE], containers: [githubJobContainer()] },
});
backend.warmUp();
test.after(async () => {
  await backend.close();
  await supply.close();
});

/** One workflow's jobs on a warm engine (each run waits for one); its result, lines, and the containers its engine had. */
async function run(text: string): Promise<{ result: JobResult; lines: (step: string) => string[] }> {
  while (backend.readyEngines === 0) await new Promise((r) => setTimeout(r, 50));
  const plans = compileText({ file: '.github/workflows/w.yml', text }, { defaultImage: DEFAULT_STEP_IMAGE, branch: 'main', event: 'push' });
  const logs: LogLine[] = [];
  const [result] = await runPlans(plans, { backend, onLog: (l) => logs.push(l) });
  return { result: result!, lines: (step) => logs.filter((l) => l.source === step).map((l) => l.text) };
}

const CONTAINERS = "docker ps --format '{{.Names}}' | sort";

test('a job on ubuntu-latest runs in the warm job container, with its own variables, files and outputs', { timeout: 300_000 }, async () => {
  const r = await run(`on: push
env: { WORKFLOW_LEVEL: from-workflow }
jobs:
  build:
    runs-on: ubuntu-latest
    env: { JOB_LEVEL: from-job }
    outputs:
      answer: \${{ steps.first.outputs.answer }}
    steps:
      - id: first
        name: first
        run: |
          echo "answer=42" >> "$GITHUB_OUTPUT"
          echo "LEFT=by-first" >> "$GITHUB_ENV"
          touch /tmp/made-by-first
          ${CONTAINERS}
      - name: second
        run: |
          echo "$WORKFLOW_LEVEL $JOB_LEVEL $LEFT $GITHUB_JOB $GITHUB_WORKSPACE $(pwd)"
          ls /tmp/made-by-first
`);
  assert.equal(r.result.status, 'success', JSON.stringify(r.result));
  assert.ok(r.lines('first').includes('nestor-warm-job-container'), `the job adopted the warm container: ${r.lines('first')}`);
  assert.ok(!r.lines('first').some((l) => /^nestor-job-.*-job-container$/.test(l)), 'and started none of its own');
  assert.ok(r.lines('second').includes('from-workflow from-job by-first build /github/workspace /github/workspace'), r.lines('second').join('\n'));
  assert.ok(r.lines('second').includes('/tmp/made-by-first'), 'steps share the container');
  assert.deepEqual((r.result as JobResult & { outputs?: Record<string, string> }).outputs, { answer: '42' });
});

test('a job container with variables of its own that its steps read starts for the job, and its steps see them', { timeout: 300_000 }, async () => {
  const r = await run(`on: push
jobs:
  own:
    runs-on: ubuntu-latest
    container:
      image: ${DEFAULT_RUNNER_IMAGE}
      env: { FROM_CONTAINER: container-value }
    steps:
      - name: look
        run: |
          echo "value=$FROM_CONTAINER"
          ${CONTAINERS}
`);
  assert.equal(r.result.status, 'success', JSON.stringify(r.result));
  assert.ok(r.lines('look').includes('value=container-value'), r.lines('look').join('\n'));
  assert.ok(r.lines('look').some((l) => /^nestor-job-.*-job-container$/.test(l)), `the job started its own container, the warm one lacks the variable: ${r.lines('look')}`);
});
