import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPlans } from '../pipeline/load.ts';
import { jobNotRunBecause, newJobState, scopeOf } from '../pipeline/github/step-runtime.ts';
import type { JobResult } from '../scheduler/results.ts';
import { earlierOf } from './agent.ts';
import { neededJobs } from './run-plans.ts';

/**
 * `needs.*` around a reusable workflow (test/fixtures/github/reusable-local): a called job gets
 * its own needs and its caller's, each in its workflow's namespace; a later job of the calling
 * workflow reads the caller as one job, its result over every job it ran and its outputs from
 * the called workflow's `outputs`. No Docker: only plans and results.
 */

const plans = loadPlans(join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'github', 'reusable-local'), undefined, { defaultImage: 'busybox', branch: 'main', event: 'push' });
const plan = (name: string) => plans.find((p) => p.name === name)!;
const ended = (...results: [string, JobResult['status'], Record<string, string>?][]) => new Map(results.map(([name, status, outputs]) => [name, { name, status, steps: [], durationMs: 1, engine: 'e', ...(outputs ? { outputs } : {}) } satisfies JobResult]));

test("a called job is given its caller's needs beside its own, and sees only its own as needs.*", () => {
  const done = ended(['version', 'success', { number: '1.2.3' }], ['build / compile', 'success', { artifact: 'dist/server.tar.gz' }]);
  const compile = neededJobs(plan('build / compile'), plans, done);
  assert.deepEqual(compile, { version: { result: 'success', outputs: { number: '1.2.3' } } });
  const publish = plan('build / publish');
  const needs = neededJobs(publish, plans, done);
  assert.deepEqual(needs, { 'build / compile': { result: 'success', outputs: { artifact: 'dist/server.tar.gz' } }, version: { result: 'success', outputs: { number: '1.2.3' } } });
  const scope = scopeOf(publish.github!, newJobState('n', { REGISTRY_TOKEN: 't0k3n', OTHER: 'x' }, needs));
  assert.deepEqual(scope.contexts.needs, { compile: { result: 'success', outputs: { artifact: 'dist/server.tar.gz' } } });
  assert.deepEqual(scope.contexts.inputs, { target: 'server', release: true, jobs: 2, version: '1.2.3' });
  assert.deepEqual(scope.contexts.secrets, { GITHUB_TOKEN: '', 'registry-token': 't0k3n' }, 'only what the caller passes, under the called name');
  // secrets: inherit passes the caller's all, under their own names.
  const inherit = plan('build-all (amd64) / compile');
  assert.deepEqual(scopeOf(inherit.github!, newJobState('n', { REGISTRY_TOKEN: 't0k3n' }, {})).contexts.secrets, { GITHUB_TOKEN: '', REGISTRY_TOKEN: 't0k3n' });
  // The caller's if: reads the caller's needs.
  assert.equal(jobNotRunBecause(publish.github!, neededJobs(publish, plans, ended(['version', 'success', { number: '' }], ['build / compile', 'success'])), {}), "its caller build has if: needs.version.outputs.number != '', which is false");
});

test("needs.CALLER is every job the caller ran as one, its outputs the called workflow's, over the called jobs' outputs", () => {
  const report = plan('report');
  const done = ended(
    ['build / compile', 'success', { artifact: 'dist/server.tar.gz' }],
    ['build / publish', 'success', {}],
    ['build-all (amd64) / compile', 'success', { artifact: 'dist/all-amd64.tar.gz' }],
    ['build-all (arm64) / compile', 'success', { artifact: 'dist/all-arm64.tar.gz' }],
  );
  assert.deepEqual(neededJobs(report, plans, done), {
    build: { result: 'success', outputs: { artifact: 'dist/server.tar.gz' } },
    // A caller with a matrix: the last combination to set an output gives it.
    'build-all': { result: 'success', outputs: { artifact: 'dist/all-arm64.tar.gz' } },
  });
  done.set('build / publish', { name: 'build / publish', status: 'failure', steps: [], durationMs: 1, engine: 'e' });
  assert.equal(neededJobs(report, plans, done).build!.result, 'failure', 'one called job failed: the caller failed');
  // Skipped by the caller's if: the caller was skipped.
  const skipped = ended(['build / compile', 'skipped'], ['build / publish', 'skipped']);
  assert.deepEqual(neededJobs(report, plans, skipped).build, { result: 'skipped', outputs: { artifact: '' } });
});

test('a runner that runs a called job alone reads its needs from the jobs that ran elsewhere', () => {
  const earlier = earlierOf(plans, [
    { name: 'version', status: 'success', outputs: { number: '2.0.0' } },
    { name: 'build / compile', status: 'success', outputs: { artifact: 'dist/server.tar.gz' } },
  ]);
  const publish = plan('build / publish');
  const needs = neededJobs(publish, [publish], new Map(), earlier);
  assert.deepEqual(scopeOf(publish.github!, newJobState('n', {}, needs)).contexts.inputs, { target: 'server', release: true, jobs: 2, version: '2.0.0' });
  const report = plan('report');
  assert.deepEqual(neededJobs(report, [report], new Map(), earlier).build, { result: 'success', outputs: { artifact: 'dist/server.tar.gz' } });
});
