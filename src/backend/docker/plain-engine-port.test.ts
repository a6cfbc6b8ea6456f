import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobSpec, StepSpec } from '../backend.ts';
import { plainPortOf } from './plain-engine-port.ts';

const step = (name: string, env: Record<string, string>): StepSpec => ({ name, image: 'x', environment: env, secrets: [], privileged: false, mounts: [], engine: { client: true, certDirs: [], plain: true }, workingDir: '/w', detach: false });
const spec = (steps: StepSpec[], engineAliases: string[] = []): JobSpec => ({ name: 'j', workspace: '/w', steps, services: [], volumes: [], images: [], engineAliases, plainEngine: true });

test('the plain port is the one the file\'s own DOCKER_HOST names for the engine; 2375 otherwise; never the TLS port', () => {
  assert.equal(plainPortOf(spec([step('a', {})])), 2375);
  assert.equal(plainPortOf(spec([step('a', { DOCKER_HOST: 'tcp://docker:2375' })])), 2375);
  assert.equal(plainPortOf(spec([step('a', { DOCKER_HOST: 'tcp://dind:12375' })], ['dind'])), 12375);
  assert.equal(plainPortOf(spec([step('a', { DOCKER_HOST: 'tcp://elsewhere.example:4000' }), step('b', { DOCKER_HOST: 'tcp://localhost:2385/' })])), 2385, 'an address of another machine is not the engine\'s');
  assert.throws(() => plainPortOf(spec([step('a', { DOCKER_HOST: 'tcp://docker:2376' })])), (err: Error & { code: string }) => err.code === 'NESTOR_ENGINE_PLAIN_PORT' && /tcp:\/\/docker:2375/.test(err.message));
});
