import pino from 'pino';
import { ImageSupply } from '../engine/images/supply.ts';
import { RunnerAgent } from '../runner/agent.ts';
import { compileSubmission } from '../server/submission.ts';
import type { RunningServer } from '../server/server.ts';
import { hostEngine } from './action.ts';
import { untilSignal } from './signals.ts';
import type { EngineClient } from '../engine/engine-client.ts';
import { EXIT, type Output } from './output.ts';

/** The demo: an image built and run inside the job's own nested engine. */
export const DEMO_JOB = {
  name: 'demo: build and run an image in a nested engine',
  steps: [
    {
      name: 'build',
      image: 'docker:27-cli',
      commands: [
        `printf 'FROM busybox:latest\\nRUN echo "built inside job engine $(hostname)" > /msg\\nCMD ["cat", "/msg"]\\n' > Dockerfile`,
        'docker build -q -t nestor-demo .',
        'docker run --rm nestor-demo',
      ],
    },
  ],
};

type Flags = { port: string; dataDir?: string; leaseSeconds: string; gitops: boolean; demo: boolean; exitAfterDemo?: boolean };

/**
 * `nestor up`: the server with the embedded store and a local runner in one process, and a
 * demo job submitted through the same queue any client uses, visible through the API.
 */
export async function up(out: Output, flags: Flags, serve: (out: Output, flags: Flags, host: EngineClient, supply: ImageSupply) => Promise<RunningServer>): Promise<number> {
  const host = await hostEngine();
  const supply = await ImageSupply.start(host);
  const server = await serve(out, flags, host, supply);
  const runnerName = 'local';
  await server.store.registerRunner({ name: runnerName, type: 'docker', host: 'localhost', port: 0, capabilities: ['docker'], labels: ['local'], metadata: { embedded: true }, maxJobs: 3 });
  await server.store.removeTokens('runner', runnerName);
  const runnerToken = await server.store.addToken('runner', runnerName);
  const agent = new RunnerAgent({ server: server.url, token: runnerToken, name: runnerName, maxJobs: 3, labels: ['local'], host, supply, warm: 1, log: pino({ name: 'nestor-runner' }) });
  await agent.start();
  const stop = async () => {
    await agent.stop();
    await supply.close();
    await server.close();
  };
  out.progress(`nestor is up: ${server.url} (API ${server.url}/api/openapi.json, metrics ${server.url}/metrics)`);

  let code: number = EXIT.ok;
  if (flags.demo) {
    const { name, spec } = compileSubmission({ ...DEMO_JOB, labels: [], file: '.nestor.yml', retry: { policy: 'retry', max_attempts: 3 } });
    const job = await server.store.createJob({ name, spec });
    const token = server.generated.admin ?? '$NESTOR_ADMIN_TOKEN';
    out.progress(`demo job ${job.id} submitted; follow it with:`);
    out.progress(`  curl -N -H 'Authorization: Bearer ${token}' ${server.url}/api/jobs/${job.id}/logs -H 'Accept: text/event-stream'`);
    const finished = await waitFor(server, job.id);
    for (const line of await server.store.logsAfter(job.id, 0, 10_000)) out.line(`${line.source} ${line.stream === 'stderr' ? '!' : '|'} ${line.text}`);
    out.progress(`demo job ${finished.status}${finished.error ? `: ${finished.error}` : ''} (GET ${server.url}/api/jobs/${job.id})`);
    if (finished.status !== 'succeeded') code = EXIT.failed;
  }
  if (flags.exitAfterDemo) {
    await stop();
    return code;
  }
  out.progress('serving until Ctrl-C');
  await untilSignal(out, stop);
  return code;
}

async function waitFor(server: RunningServer, id: string) {
  for (;;) {
    const job = (await server.store.job(id))!;
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 200));
  }
}
