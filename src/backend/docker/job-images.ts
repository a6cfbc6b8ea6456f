import type Docker from 'dockerode';
import { NestorError, errorMessage } from '../../errors.ts';
import { consumeProgress } from '../../engine/json-stream.ts';
import { imageExists } from '../../engine/images/local-images.ts';
import { LOCAL_CLI_IMAGE, LOCAL_DIND_IMAGE } from '../../engine/images/image-names.ts';
import { parseReference, splitTag, DOCKER_HUB } from '../../engine/images/reference.ts';
import type { RegistryAuth } from '../backend.ts';
import { credentialFor, PullUnauthorizedError, refusedForCredentials, type AuthConfig } from './pull-auth.ts';

export class ImageNotFoundError extends NestorError {
  constructor(image: string, why: string) {
    super(
      'NESTOR_IMAGE_NOT_FOUND',
      `Image ${image} cannot be found: ${why}`,
      `Check the name; if it is right, put it on the host engine (docker pull ${image}, docker build -t ${image} ., or docker load) — Nestor serves the host's images to every job.`,
    );
  }
}

/** The official Docker images (`docker:27-cli`, `docker:dind`): all carry the docker client. */
export function isDockerImage(image: string): boolean {
  const ref = parseReference(image);
  return ref.registry === DOCKER_HUB && ref.repository === 'library/docker';
}

/**
 * Makes every image a job names present in its engine before anything starts: already there
 * (shared layers), else pulled through the engine's mirror (the host's images, then the
 * internet where there is one), with the credentials of `auth` for the image's registry; a
 * refusal says so (PullUnauthorizedError). Where `docker:*-cli` cannot be had, the local DinD
 * image, which carries the same `docker` and `docker-compose` clients, stands in under the
 * requested name.
 */
export async function prepareImages(docker: Docker, images: string[], notice: (text: string) => void, auth: RegistryAuth[] = []): Promise<void> {
  await Promise.all(
    images.map(async (image) => {
      if (await imageExists(docker, image)) return;
      const credential = credentialFor(image, auth);
      const pulled = await pull(docker, image, credential?.authconfig);
      if (pulled === true) return;
      if (refusedForCredentials(pulled, credential !== undefined)) throw new PullUnauthorizedError(image, auth, credential?.from, pulled);
      const standIn = isDockerImage(image) ? standInFor(image) : undefined;
      if (standIn && (await imageExists(docker, standIn).then((y) => y || pull(docker, standIn).then((r) => r === true)))) {
        const [repo, tag] = splitTag(image);
        await docker.getImage(standIn).tag({ repo, tag });
        notice(`${image} cannot be pulled here; ${standIn} (same docker and docker-compose clients${standIn === LOCAL_DIND_IMAGE ? ', and dockerd' : ''}) stands in for it`);
        return;
      }
      throw new ImageNotFoundError(image, `not on the host engine, and the pull failed (${pulled})`);
    }),
  );
}

/** Nestor's local image with the same clients: the daemon's image only for `docker:*dind*`. */
export function standInFor(image: string): string {
  return /dind/.test(splitTag(image)[1]) ? LOCAL_DIND_IMAGE : LOCAL_CLI_IMAGE;
}

/** True, or the engine's first line of why not. */
async function pull(docker: Docker, image: string, authconfig?: AuthConfig): Promise<true | string> {
  try {
    // createImage with the credentials apart: `pull(image, { authconfig })` would also put
    // them in the request's query string, where an engine's debug log shows them.
    const [fromImage, tag, digest] = splitTag(image);
    const stream = authconfig ? await docker.createImage(authconfig, { fromImage, tag: digest ?? tag }) : await docker.pull(image);
    await consumeProgress(`pull of ${image}`, stream);
    return true;
  } catch (err) {
    return errorMessage(err).split('\n')[0]!;
  }
}
