import type Docker from 'dockerode';
import { NestorError, errorMessage } from '../../errors.ts';
import { consumeProgress } from '../../engine/json-stream.ts';
import { imageExists } from '../../engine/images/local-images.ts';
import { LOCAL_CLI_IMAGE, LOCAL_DIND_IMAGE } from '../../engine/images/image-names.ts';
import { parseReference, splitTag, DOCKER_HUB } from '../../engine/images/reference.ts';

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
 * internet where there is one). Where `docker:*-cli` cannot be had, the local DinD image, which
 * carries the same `docker` and `docker-compose` clients, stands in under the requested name.
 */
export async function prepareImages(docker: Docker, images: string[], notice: (text: string) => void): Promise<void> {
  await Promise.all(
    images.map(async (image) => {
      if (await imageExists(docker, image)) return;
      const pulled = await pull(docker, image);
      if (pulled === true) return;
      const standIn = isDockerImage(image) ? standInFor(image) : undefined;
      if (standIn && (await imageExists(docker, standIn).then((y) => y || pull(docker, standIn).then((r) => r === true)))) {
        const [repo, tag] = splitTag(image);
        await docker.getImage(standIn).tag({ repo, tag });
        notice(`${image} cannot be pulled here; ${standIn} (same docker and docker-compose clients${standIn === LOCAL_DIND_IMAGE ? ', and dockerd' : ''}) stands in for it`);
        return;
      }
      throw new ImageNotFoundError(image, pulled);
    }),
  );
}

/** Nestor's local image with the same clients: the daemon's image only for `docker:*dind*`. */
export function standInFor(image: string): string {
  return /dind/.test(splitTag(image)[1]) ? LOCAL_DIND_IMAGE : LOCAL_CLI_IMAGE;
}

async function pull(docker: Docker, image: string): Promise<true | string> {
  try {
    await consumeProgress(`pull of ${image}`, await docker.pull(image));
    return true;
  } catch (err) {
    return `not on the host engine, and the pull failed (${errorMessage(err).split('\n')[0]})`;
  }
}
