import type Docker from 'dockerode';
import { isDeepStrictEqual } from 'node:util';
import { imageExists } from '../../engine/images/local-images.ts';
import { pullInto } from '../../engine/images/supply.ts';
import type { NestedEngine } from '../../engine/nested/nested-engine.ts';
import type { PlanContainer } from '../../pipeline/plan.ts';
import type { OutputSink } from '../backend.ts';
import { streamLines } from './container-output.ts';
import { containerSafeName } from './container-name.ts';
import { containerOptions } from './container-spec.ts';
import { warmContext, warmVolume, warmVolumes } from './warm-volumes.ts';

/**
 * A long-running container a warm engine starts before any job is known: a GitHub job's
 * container (`tail -f /dev/null` in the runner image, the workspace and file-commands volumes
 * mounted), which every step of such a job runs in by `docker exec`. The job whose detached
 * step has the same definition, but for variables its steps never see, adopts it: its start,
 * the longest wait between a job's start and its first step's process, was spent while the
 * engine sat warm.
 */
export interface WarmContainer {
  /** The detached step it stands for (its name in the plan). */
  step: string;
  container: Docker.Container;
  options: Docker.ContainerCreateOptions;
  /** Settles once its output has ended (it has stopped). */
  ended: Promise<void>;
  /** Where its output goes once a job adopts it (until then there is none: it runs `tail`). */
  sink?: OutputSink;
}

const started = new WeakMap<NestedEngine, WarmContainer[]>();

/** For a pool's `prepare`: starts one container per template in a fresh engine, where its image can be had. */
export async function prepareWarmContainers(engine: NestedEngine, templates: PlanContainer[]): Promise<void> {
  if (!templates.length || engine.isolation === 'socket') return;
  const volumes = await warmVolumes(engine);
  const ready: WarmContainer[] = [];
  try {
    for (const template of templates) {
      if (!(await imageExists(engine.docker, template.image))) await pullInto(engine, template.image).catch(() => undefined);
      if (!(await imageExists(engine.docker, template.image))) continue;
      for (const m of template.mounts) if (m.kind === 'volume') await warmVolume(engine, m.name);
      // A job's detached step resolves by its own name, as the template's does here.
      const options = containerOptions(warmContext(engine, volumes, [template.name]), template, 'step', []);
      const container = await engine.docker.createContainer({ ...options, name: `nestor-warm-${containerSafeName(template.name)}` });
      const warm: WarmContainer = { step: template.name, container, options, ended: Promise.resolve() };
      const stream = (await container.attach({ stream: true, stdout: true, stderr: true, logs: true })) as NodeJS.ReadableStream;
      warm.ended = streamLines(stream, () => warm.sink);
      await container.start();
      ready.push(warm);
    }
  } finally {
    started.set(engine, ready);
  }
}

/** The engine's warm containers, once: the job that takes them owns them. */
export function takeWarmContainers(engine: NestedEngine): WarmContainer[] {
  const taken = started.get(engine) ?? [];
  started.delete(engine);
  return taken;
}

/**
 * Whether a detached step can be the warm container: the same name, image, command, user,
 * directory, mounts, network and privileges. Its variables may differ only where no process
 * in it would read them: each one it sets is set again by every step run in it (`execIn`),
 * whose own variables replace the container's, and `tail` reads none.
 */
export function fitsWarm(warm: WarmContainer, step: { name: string; options: Docker.ContainerCreateOptions }, execs: Docker.ContainerCreateOptions[]): boolean {
  const shape = (o: Docker.ContainerCreateOptions) => ({ image: o.Image, entrypoint: o.Entrypoint, cmd: o.Cmd, dir: o.WorkingDir, user: o.User, host: o.HostConfig, net: o.NetworkingConfig });
  if (warm.step !== step.name || !isDeepStrictEqual(shape(step.options), shape(warm.options))) return false;
  const names = (o: Docker.ContainerCreateOptions) => (o.Env ?? []).map((e) => e.slice(0, e.indexOf('=')));
  const setByEvery = (name: string) => execs.every((e) => names(e).includes(name));
  const unseen = (a: string[] | undefined, b: string[] | undefined) => {
    const other = new Set(b ?? []);
    return (a ?? []).every((e) => other.has(e) || setByEvery(e.slice(0, e.indexOf('='))));
  };
  return unseen(step.options.Env, warm.options.Env) && unseen(warm.options.Env, step.options.Env);
}
