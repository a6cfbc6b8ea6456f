// push_to_first_step alone, on the embedded store: the figure bench/server.ts measures among its
// others, quick to run again while working on it. Prints one JSON object as its last line and
// writes bench/results/push-only.json.
import { rmSync } from 'node:fs';
import pino from 'pino';
import { connect } from '../src/engine/engine-client.ts';
import { endpointFromEnv } from '../src/engine/docker-host.ts';
import { ImageSupply } from '../src/engine/images/supply.ts';
import { RunnerAgent } from '../src/runner/agent.ts';
import { REGISTRATION, api, freshStore, tempDir } from './server-harness.ts';
import { pushToFirstStep } from './repo-push.ts';
import { report } from './stats.ts';

const host = connect(endpointFromEnv(process.env));
const supply = await ImageSupply.start(host);
const { server } = await freshStore('embedded');
const url = server.url;
const runnerToken = (await api<{ token: string }>(url, 'POST', '/api/runners/register', { name: 'bench-runner', max_jobs: 1 }, REGISTRATION)).body.token;
const repoCacheDir = tempDir();
const agent = new RunnerAgent({ server: url, token: runnerToken, name: 'bench-runner', maxJobs: 1, labels: [], host, supply, warm: 2, repoCacheDir, log: pino({ level: 'silent' }) });
await agent.start();
const warm = async () => {
  for (let waited = 0; agent.readyEngines < 2 && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
};
try {
  const out = await pushToFirstStep(url, warm, Number(process.env.BENCH_RUNS ?? 10));
  report('push-only', out);
} finally {
  await agent.stop();
  rmSync(repoCacheDir, { recursive: true, force: true });
  await server.close();
  await supply.close();
}
