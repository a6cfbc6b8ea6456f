import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { errorMessage } from '../errors.ts';
import { tarOf } from './archive.ts';
import { consumeProgress } from './json-stream.ts';
import { nestorLabels } from './labels.ts';
import { runContainer, startContainer } from './run-container.ts';

export interface CheckOutcome {
  name: string;
  ok: boolean;
  detail: string;
  durationMs: number;
}

/**
 * Exercises an engine the way jobs will: run a container, build an image, reach one container
 * from another by name, share a volume. Used by `nestor engine test`, the demo and `doctor`.
 * Everything it makes is removed again.
 */
export async function selfTest(docker: Docker, image: string): Promise<CheckOutcome[]> {
  const tag = randomBytes(3).toString('hex');
  return [
    await check('run a container', async () => {
      const r = await runContainer(docker, { image, cmd: ['echo', 'nestor-ok'] });
      if (r.exitCode !== 0 || !r.stdout.includes('nestor-ok')) throw new Error(`exit ${r.exitCode}: ${r.stderr || r.stdout}`);
      return `printed nestor-ok in ${Math.round(r.durationMs)} ms`;
    }),
    await check('build an image', async () => {
      const name = `nestor-selftest-${tag}:latest`;
      const context = await tarOf([{ name: 'Dockerfile', content: `FROM ${image}\nRUN echo built-inside > /built.txt\nCMD ["cat", "/built.txt"]\n` }]);
      const stream = await docker.buildImage(Readable.from(context) as unknown as NodeJS.ReadableStream, {
        t: name,
        rm: true,
        forcerm: true,
        labels: nestorLabels('image'),
      });
      try {
        await consumeProgress(`build of ${name}`, stream);
        const r = await runContainer(docker, { image: name, cmd: ['cat', '/built.txt'] });
        if (!r.stdout.includes('built-inside')) throw new Error(`the built image printed ${JSON.stringify(r.stdout)}`);
        return `built ${name} and ran it`;
      } finally {
        await docker.getImage(name).remove({ force: true }).catch(() => undefined);
      }
    }),
    await check('network between two containers', async () => {
      const net = `nestor-selftest-${tag}`;
      await docker.createNetwork({ Name: net, Labels: nestorLabels('network') });
      let server: Docker.Container | undefined;
      try {
        server = await startContainer(docker, {
          image,
          network: net,
          aliases: ['server'],
          cmd: ['sh', '-c', 'mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 8080 -h /www'],
        });
        const r = await runContainer(docker, {
          image,
          network: net,
          cmd: ['sh', '-c', 'for i in $(seq 1 50); do wget -qO- http://server:8080/index.html && exit 0; sleep 0.1; done; exit 1'],
        });
        if (r.exitCode !== 0 || !r.stdout.includes('pong')) throw new Error(`client could not reach server: ${r.stderr.trim() || r.stdout.trim()}`);
        return 'client reached server:8080 by name';
      } finally {
        await server?.remove({ force: true }).catch(() => undefined);
        await docker.getNetwork(net).remove().catch(() => undefined);
      }
    }),
    await check('volume shared between containers', async () => {
      const vol = `nestor-selftest-${tag}`;
      await docker.createVolume({ Name: vol, Labels: nestorLabels('storage') });
      try {
        await runContainer(docker, { image, binds: [`${vol}:/data`], cmd: ['sh', '-c', 'echo kept > /data/file'] });
        const r = await runContainer(docker, { image, binds: [`${vol}:/data:ro`], cmd: ['cat', '/data/file'] });
        if (!r.stdout.includes('kept')) throw new Error(`second container read ${JSON.stringify(r.stdout)}`);
        return 'a file written by one container was read by another';
      } finally {
        await docker.getVolume(vol).remove().catch(() => undefined);
      }
    }),
  ];
}

async function check(name: string, body: () => Promise<string>): Promise<CheckOutcome> {
  const started = performance.now();
  try {
    return { name, ok: true, detail: await body(), durationMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { name, ok: false, detail: errorMessage(err), durationMs: Math.round(performance.now() - started) };
  }
}
