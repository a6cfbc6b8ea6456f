import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobPlan } from './plan.ts';
import { selectJobs } from './select-jobs.ts';

const plan = (name: string, pipeline = name, needs?: string[]): JobPlan => ({ name, pipeline, matrix: {}, workspace: '/w', steps: [], services: [], volumes: [], images: [], engineAliases: [], copySource: true, notices: [], ...(needs ? { needs } : {}) });

test('--job keeps the jobs named and what they wait for, by job or pipeline name', () => {
  const plans = [plan('build'), plan('test (GO=1)', 'test', ['build']), plan('test (GO=2)', 'test', ['build']), plan('docs'), plan('deploy', 'deploy', ['test'])];
  assert.deepEqual(selectJobs(plans, ['deploy']).map((p) => p.name), ['build', 'test (GO=1)', 'test (GO=2)', 'deploy']);
  assert.deepEqual(selectJobs(plans, ['test (GO=2)']).map((p) => p.name), ['build', 'test (GO=2)']);
  assert.deepEqual(selectJobs(plans, ['docs']).map((p) => p.name), ['docs']);
  assert.deepEqual(selectJobs(plans, []).length, 5);
  assert.throws(() => selectJobs(plans, ['dcos']), (err: Error & { code: string }) => err.code === 'NESTOR_USAGE_UNKNOWN_JOB' && /did you mean "docs"/.test(err.message));
});

test('--job on a GitLab job keeps the jobs of the earlier stages or of its needs, and not the rest', () => {
  const job = (name: string, after: string[]) => ({ ...plan(name, 'gitlab'), ...(after.length ? { after: after.map((j) => ({ job: j })) } : {}) });
  const plans = [job('compile', []), job('lint', []), job('unit', ['compile']), job('e2e', ['unit']), job('docs', [])];
  assert.deepEqual(selectJobs(plans, ['e2e']).map((p) => p.name), ['compile', 'unit', 'e2e']);
  assert.deepEqual(selectJobs(plans, ['gitlab']).length, 5);
});
