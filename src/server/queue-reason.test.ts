import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Runner } from './store/store.ts';
import { queuedReason } from './queue-reason.ts';

const runner = (name: string, labels: string[], lastSeen = 1000): Runner => ({ name, type: 'docker', host: 'h', port: 0, capabilities: ['docker'], labels, metadata: {}, maxJobs: 1, registeredAt: 0, lastSeen });
const queued = (labels: string[], targetRunner: string | null = null) => ({ status: 'queued' as const, labels, targetRunner });

test('a queued job no runner can take says why; one that waits only for a slot says nothing', () => {
  assert.match(queuedReason(queued([]), [], 1000, 30_000)!, /no runner is registered/);
  assert.match(queuedReason(queued([]), [runner('a', [], 0)], 100_000, 30_000)!, /no runner is online/);
  assert.equal(queuedReason(queued(['docker', 'arm64']), [runner('a', ['arm64'])], 1000, 30_000), undefined);
  assert.equal(queuedReason(queued(['docker', 'arm64', 'gpu']), [runner('a', ['amd64'])], 1000, 30_000), 'no runner has the labels arm64, gpu');
  assert.equal(queuedReason(queued(['arm64', 'gpu']), [runner('a', ['arm64']), runner('b', ['gpu'])], 1000, 30_000), 'no runner has the labels arm64, gpu all at once');
  assert.match(queuedReason(queued([], 'mac'), [runner('a', [])], 1000, 30_000)!, /runner mac, which the job is for, is not online/);
  assert.equal(queuedReason({ status: 'running', labels: ['x'], targetRunner: null }, [], 1000, 30_000), undefined);
});
