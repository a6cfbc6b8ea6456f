import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nestor } from '../helpers.ts';

/**
 * A failing step whose failure is to be ignored never keeps the next step from running, in any
 * format and whether the next step follows by order, by depends_on/needs, or by stage, or asks
 * for `status: success`, and whether it is a step of the same job or a job after it (GitLab).
 */
const CASES: { name: string; file: string; text: string }[] = [
  { name: 'Nestor, by order', file: '.nestor.yml', text: 'steps:\n  - name: flaky\n    failure: ignore\n    commands: ["exit 3"]\n  - name: after\n    commands: ["echo after-ran"]\n' },
  { name: 'Nestor, depends_on', file: '.nestor.yml', text: 'steps:\n  - name: flaky\n    failure: ignore\n    commands: ["exit 3"]\n  - name: after\n    depends_on: [flaky]\n    commands: ["echo after-ran"]\n' },
  { name: 'Woodpecker, depends_on and status: success', file: '.woodpecker.yml', text: 'steps:\n  flaky:\n    image: busybox:latest\n    failure: ignore\n    commands: ["exit 3"]\n  after:\n    image: busybox:latest\n    depends_on: [flaky]\n    when:\n      status: [success]\n    commands: ["echo after-ran"]\n' },
  { name: 'Drone', file: '.drone.yml', text: 'kind: pipeline\ntype: docker\nname: default\nsteps:\n  - name: flaky\n    image: busybox:latest\n    failure: ignore\n    commands: ["exit 3"]\n  - name: after\n    image: busybox:latest\n    commands: ["echo after-ran"]\n' },
  { name: 'GitLab, next stage', file: '.gitlab-ci.yml', text: 'stages: [test, deploy]\nflaky:\n  stage: test\n  image: busybox:latest\n  allow_failure: true\n  script: ["exit 3"]\nafter:\n  stage: deploy\n  image: busybox:latest\n  script: ["echo after-ran"]\n' },
  { name: 'GitLab, needs', file: '.gitlab-ci.yml', text: 'flaky:\n  image: busybox:latest\n  allow_failure: true\n  script: ["exit 3"]\nafter:\n  image: busybox:latest\n  needs: [flaky]\n  script: ["echo after-ran"]\n' },
];

for (const c of CASES) {
  test(`failure ignored, the next step still runs: ${c.name}`, { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nestor-ignore-'));
    writeFileSync(join(dir, c.file), c.text);
    const r = await nestor(['run', '--json', '-C', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; text?: string; jobs?: { steps: { name: string; status: string }[] }[] });
    const result = events.find((e) => e.type === 'result')!;
    // GitLab's jobs are jobs of their own; the other formats' steps share one job.
    const steps = Object.fromEntries(result.jobs!.flatMap((j) => j.steps).map((s) => [s.name, s.status]));
    assert.deepEqual(steps, { flaky: 'ignored', after: 'success' });
    assert.ok(events.some((e) => e.type === 'log' && e.text === 'after-ran'), 'the next step printed its line');
  });
}
