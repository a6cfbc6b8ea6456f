import { ImageSupply } from '../engine/images/supply.ts';
import { RunnerAgent } from '../runner/agent.ts';
import { compileSubmission } from '../server/submission.ts';
import type { RunningServer } from '../server/server.ts';
import { hostEngine } from './action.ts';
import { withLifecycle } from './lifecycle.ts';
import { makeLogger } from './logger.ts';
import { countFlag } from './count-flag.ts';
import { gitopsConfig, runnerSettings, serve, type ServerFlags } from './commands/server.ts';
import { EXIT, type Output } from './output.ts';
import { runnerLabels } from '../runner/runner-labels.ts';

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

type Flags = ServerFlags & { demo: boolean; exitAfterDemo?: boolean; maxJobs?: string; warm?: string };

/**
 * `nestor up`: the server with the embedded store and a local runner in one process, and a
 * demo job submitted through the same queue any client uses, visible through the API.
 * A signal at any moment stops what has started, newest first, and leaves nothing behind.
 */
export async function up(out: Output, flags: Flags): Promise<number> {
  return withLifecycle(out, async (life) => {
    const logger = makeLogger(flags);
    const host = await hostEngine();
    life.check();
    const supply = life.own(await ImageSupply.start(host), 'the image supply', (s) => s.close());
    life.check();
    const server = life.own(await serve(out, flags, logger, flags.gitops ? gitopsConfig(host, supply) : undefined), 'the server', (s) => s.close());
    life.check();
    const runnerName = 'local';
    const maxJobs = countFlag(flags.maxJobs, 3, '--max-jobs');
    const warm = countFlag(flags.warm, 1, '--warm', 0);
    await server.store.registerRunner({ name: runnerName, type: 'docker', host: 'localhost', port: 0, capabilities: ['docker'], labels: runnerLabels(['local']), metadata: { embedded: true }, maxJobs });
    await server.store.removeTokens('runner', runnerName);
    const runnerToken = await server.store.addToken('runner', runnerName);
    // The server logs the jobs' start and end; the runner beside it would say the same again.
    const agent = new RunnerAgent({ server: server.url, token: runnerToken, name: runnerName, maxJobs, labels: runnerLabels(['local']), host, supply, warm, ...runnerSettings(process.env), log: logger.child({ runner: runnerName }), jobEventsLevel: 'debug' });
    life.own(agent, 'the local runner', (a) => a.stop());
    await agent.start();
    life.check();
    out.progress(`nestor is up: ${server.url} (API ${server.url}/api/openapi.json, metrics ${server.url}/metrics)`);

    let code: number = EXIT.ok;
    if (flags.demo) {
      const { name, spec } = await compileSubmission({ ...DEMO_JOB, labels: [], file: '.nestor.yml', retry: { policy: 'retry', max_attempts: 3 } });
      life.check(); // stopped while compiling: no demo job that nothing will run
      const job = await server.store.createJob({ name, spec });
      out.progress(`demo job ${job.id} submitted; follow it with:`);
      out.progress(`  ${followCommand(server, job.id)}`);
      const finished = await waitFor(server, job.id, life.signal);
      if (!finished) return code;
      for (const line of await server.store.logsAfter(job.id, 0, 10_000)) out.line(`${line.source} ${line.stream === 'stderr' ? '!' : '|'} ${line.text}`);
      out.progress(`demo job ${finished.status}${finished.error ? `: ${finished.error}` : ''} (GET ${server.url}/api/jobs/${job.id})`);
      if (finished.status !== 'succeeded') code = EXIT.failed;
    }
    if (flags.exitAfterDemo) return code;
    out.progress('serving until Ctrl-C');
    await life.untilSignal();
    return code;
  });
}

/**
 * A curl line that works when pasted: the header in double quotes, so the shell expands
 * $NESTOR_ADMIN_TOKEN when the token is not shown (it is only shown at the first start).
 */
export function followCommand(server: RunningServer, jobId: string): string {
  const token = server.generated.admin ?? '$NESTOR_ADMIN_TOKEN';
  return `curl -N -H "Authorization: Bearer ${token}" -H 'Accept: text/event-stream' ${server.url}/api/jobs/${jobId}/logs`;
}

async function waitFor(server: RunningServer, id: string, signal: AbortSignal) {
  while (!signal.aborted) {
    const job = (await server.store.job(id))!;
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}
