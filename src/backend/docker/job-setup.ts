import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { filesArchive, joinArchives, listFiles } from '../../engine/archive.ts';
import { removeLabelled } from '../../engine/cleanup.ts';
import { LABEL_ENGINE, LABEL_JOB, LABEL_MANAGED, nestorLabels } from '../../engine/labels.ts';
import type { NestedEngine } from '../../engine/nested/nested-engine.ts';
import type { JobSpec, SetupOptions } from '../backend.ts';
import { engineNames } from './engine-transport.ts';
import { PLAIN_PORT_IMAGE, plainPortOf, startPlainEnginePort } from './plain-engine-port.ts';
import type { JobContext } from './job-context.ts';
import { prepareImages } from './job-images.ts';
import { PROBE_IMAGE } from './services.ts';
import { takeStepSlots, type StepSlot } from './step-slot.ts';
import { takeWarmContainers, type WarmContainer } from './warm-container.ts';
import { takeWarmVolumes, type WarmVolumes } from './warm-volumes.ts';
import { createWorkspaceVolume } from './workspace-volume.ts';

/**
 * A job's objects in its engine: network (socket mode), volumes, workspace with its content,
 * images. Everything made carries the job's label; the engine's too, because in socket mode
 * these objects live on the host engine and the engine's destroy (also on cancel and crash
 * clean-up) must find them.
 */
export async function setUpInEngine(
  id: string,
  engine: NestedEngine,
  spec: JobSpec,
  opts: SetupOptions,
): Promise<{ ctx: JobContext; warm: { slots: StepSlot[]; containers: WarmContainer[] } }> {
  const labels = { ...opts.labels, [LABEL_JOB]: id, [LABEL_ENGINE]: engine.name };
  // What a warm engine made ahead is the job's: its steps take the slots whose container they
  // fit (a native file's, with the workspace at /workspace) and the warm container their job
  // container is (a GitHub job's); the rest wait until the teardown, not stopped now, when a
  // burst of jobs' set-ups wants the engines' every cycle. The warm volumes are the job's
  // wherever its steps mount them.
  const slots = takeStepSlots(engine);
  const containers = takeWarmContainers(engine);
  try {
    const plain = spec.plainEngine && engine.isolation !== 'socket';
    const images = [...spec.images, ...(spec.services.length ? [PROBE_IMAGE] : []), ...(plain ? [PLAIN_PORT_IMAGE] : [])];
    const warmVolumes = await takeWarmVolumes(engine);
    const [ctx] = await Promise.all([makeContext(id, engine, spec, labels, opts.secrets, warmVolumes), prepareImages(engine.docker, images, opts.notice, opts.registryAuth)]);
    if (plain && !opts.signal.aborted) await startPlainEnginePort(ctx);
    if (!opts.signal.aborted) await Promise.all([opts.workspace ? fillWorkspace(ctx, spec, opts.workspace(), warmWorkspaceHolder(ctx, spec, slots)) : undefined, fillVolumeFolders(ctx, spec)]);
    return { ctx, warm: { slots, containers } };
  } catch (err) {
    for (const slot of slots) slot.armed.dispose();
    throw err;
  }
}

async function makeContext(
  id: string,
  engine: NestedEngine,
  spec: JobSpec,
  labels: Record<string, string>,
  secrets: Record<string, string>,
  warm: WarmVolumes | undefined,
): Promise<JobContext> {
  const docker = engine.docker;
  const disposable = engine.isolation !== 'socket';
  const workspaceVolume = warm?.workspace ?? `${id}-workspace`;
  const volumes = new Map(spec.volumes.map((v) => [v, warm?.named.get(v) ?? `${id}-${v}`]));
  const made = new Set(warm?.named.values());
  const [workspaceMountpoint] = await Promise.all([
    warm ? warm.mountpoint : createWorkspaceVolume(docker, workspaceVolume, labels),
    ...[...volumes.values()].filter((name) => !made.has(name)).map((name) => docker.createVolume({ Name: name, Labels: nestorLabels('storage', labels) })),
    ...(disposable ? [] : [docker.createNetwork({ Name: id, Driver: 'bridge', Labels: nestorLabels('network', labels) })]),
  ]);
  const localNames = spec.services.flatMap((s) => [s.name, ...s.aliases]).concat(spec.steps.filter((s) => s.detach).map((s) => s.name));
  return {
    id,
    engine,
    docker,
    network: disposable ? 'host' : id,
    engineNames: engineNames(spec.engineAliases),
    localNames,
    ...(spec.plainEngine ? { plainPort: plainPortOf(spec) } : {}),
    disposable,
    workspaceVolume,
    workspaceMountpoint,
    volumes,
    labels,
    secrets,
  };
}

/**
 * A warm step slot's container, which runs with the job's (warm) workspace volume where the job
 * has its workspace: the source can go in through it, with no container made and removed for
 * the copy while the job waits.
 */
function warmWorkspaceHolder(ctx: JobContext, spec: JobSpec, slots: StepSlot[]): Docker.Container | undefined {
  const mounted = slots.find((s) => s.options.HostConfig?.Binds?.includes(`${ctx.workspaceVolume}:${spec.workspace}`));
  return mounted?.armed.container;
}

/**
 * Unpacks the tar stream into the workspace volume: through a warm slot's container that has it
 * mounted, else through a container made for it and never started; nothing for an empty one.
 */
async function fillWorkspace(ctx: JobContext, spec: JobSpec, content: AsyncIterable<Uint8Array>, warmHolder: Docker.Container | undefined): Promise<void> {
  const chunks = content[Symbol.asyncIterator]();
  const first = await chunks.next();
  if (first.done) return;
  const rest = { [Symbol.asyncIterator]: () => chunks };
  const stream = () => Readable.from((async function* () {
    yield first.value;
    yield* rest;
  })());
  if (warmHolder) {
    await warmHolder.putArchive(stream() as unknown as NodeJS.ReadableStream, { path: spec.workspace });
    return;
  }
  const holder = await ctx.docker.createContainer({
    Image: spec.images[0] ?? PROBE_IMAGE,
    Labels: nestorLabels('workspace', ctx.labels),
    HostConfig: { Binds: [`${ctx.workspaceVolume}:${spec.workspace}`], NetworkMode: 'none' },
  });
  try {
    await holder.putArchive(stream() as unknown as NodeJS.ReadableStream, { path: spec.workspace });
  } finally {
    await holder.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * Copies the runner's own folders (fetched actions) into the job's volumes, each volume through
 * one container that is never started: the files travel as a tar stream into the engine, and
 * nothing of the host is mounted.
 */
async function fillVolumeFolders(ctx: JobContext, spec: JobSpec): Promise<void> {
  const byVolume = new Map<string, { dir: string; into: string }[]>();
  for (const f of spec.volumeFolders ?? []) if (ctx.volumes.has(f.volume)) byVolume.set(f.volume, [...(byVolume.get(f.volume) ?? []), f]);
  await Promise.all([...byVolume].map(async ([volume, folders]) => {
    const holder = await ctx.docker.createContainer({
      Image: spec.images[0] ?? PROBE_IMAGE,
      Labels: nestorLabels('workspace', ctx.labels),
      HostConfig: { Binds: [`${ctx.volumes.get(volume)}:${VOLUME_ROOT}`], NetworkMode: 'none' },
    });
    try {
      const archive = joinArchives(folders.map((f) => async () => filesArchive(f.dir, await listFiles(f.dir)) as unknown as NodeJS.ReadableStream), { under: (i) => folders[i]!.into });
      await holder.putArchive(archive as unknown as NodeJS.ReadableStream, { path: VOLUME_ROOT });
    } finally {
      await holder.remove({ force: true }).catch(() => undefined);
    }
  }));
}

const VOLUME_ROOT = '/nestor-volume';

/** On the host's own engine (socket mode), where nothing of a job may linger: removes what the job made. */
export async function removeJobObjects(engine: NestedEngine, id: string): Promise<void> {
  if (engine.isolation !== 'socket') return;
  await removeLabelled(engine.docker, [`${LABEL_MANAGED}=true`, `${LABEL_JOB}=${id}`]).catch(() => undefined);
}
