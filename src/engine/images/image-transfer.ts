import type Docker from 'dockerode';
import { consumeProgress, type ProgressMessage } from '../json-stream.ts';
import { splitTag } from './reference.ts';

/**
 * Building an image in an engine, pushing it, and copying it into another engine: the Docker
 * calls a GitOps build makes (src/gitops/builder.ts), kept here with the rest of the engine's
 * image handling so that GitOps never calls dockerode itself.
 */

/** Anything that holds a Docker API client: an engine client, a nested engine. */
export interface HasDocker {
  readonly docker: Docker;
}

export interface BuildSettings {
  /** What is built, for messages: `build of NAME failed: …`. */
  name: string;
  tag: string;
  dockerfile: string;
  labels: Record<string, string>;
  /** Credentials for FROM images in private registries, by registry host (the X-Registry-Config header). */
  registryconfig?: Record<string, { username: string; password: string }>;
}

/** Builds `context` (a tar stream) into `settings.tag`; each progress message goes to `onMessage`; a failed build throws. */
export async function buildImage(engine: HasDocker, context: NodeJS.ReadableStream, settings: BuildSettings, onMessage: (m: ProgressMessage) => void): Promise<void> {
  const stream = await engine.docker.buildImage(context, {
    t: settings.tag,
    ...(settings.registryconfig && Object.keys(settings.registryconfig).length ? { registryconfig: settings.registryconfig } : {}),
    dockerfile: settings.dockerfile,
    rm: true,
    forcerm: true,
    labels: settings.labels,
  });
  // The Engine API answers 200 for a failed build: consumeProgress finds errorDetail.
  await consumeProgress(`build of ${settings.name}`, stream, onMessage);
}

/**
 * Pushes `image`, under `pushName` when it differs (tagged so first), with these credentials
 * or anonymously: the Engine API wants X-Registry-Auth on every push, even an anonymous one.
 */
export async function pushImage(engine: HasDocker, image: string, pushName: string, registryHost: string, creds: { username: string; secret: string } | undefined): Promise<void> {
  if (pushName !== image) {
    const [repo, tag] = splitTag(pushName);
    await engine.docker.getImage(image).tag({ repo, tag });
  }
  const authconfig = creds ? { username: creds.username, password: creds.secret, serveraddress: registryHost } : { serveraddress: registryHost };
  const stream = await engine.docker.getImage(pushName).push({ authconfig });
  await consumeProgress(`push of ${image}`, stream as NodeJS.ReadableStream);
}

/** Copies `image` from one engine into another: `docker save` there, `docker load` here, streamed. */
export async function copyImage(from: HasDocker, image: string, to: HasDocker, toName: string): Promise<void> {
  const saved = (await from.docker.getImage(image).get()) as NodeJS.ReadableStream;
  const loading = (await to.docker.loadImage(saved, { quiet: true })) as NodeJS.ReadableStream;
  await consumeProgress(`load of ${image} into ${toName}`, loading);
}
