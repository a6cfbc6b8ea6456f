import type Docker from 'dockerode';
import { NestorError, errorMessage } from '../errors.ts';
import { consumeProgress } from '../engine/json-stream.ts';
import { imageExists } from '../engine/images/local-images.ts';
import { LOCAL_DIND_IMAGE } from '../engine/images/image-names.ts';
import { parseReference, DOCKER_HUB } from '../engine/images/reference.ts';
import { splitTag } from '../engine/images/bootstrap.ts';

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
      if (isDockerImage(image) && (await imageExists(docker, LOCAL_DIND_IMAGE).then((y) => y || pull(docker, LOCAL_DIND_IMAGE).then((r) => r === true)))) {
        const [repo, tag] = splitTag(image);
        await docker.getImage(LOCAL_DIND_IMAGE).tag({ repo, tag });
        notice(`${image} cannot be pulled here; ${LOCAL_DIND_IMAGE} (same docker and docker-compose clients) stands in for it`);
        return;
      }
      throw new ImageNotFoundError(image, pulled);
    }),
  );
}

async function pull(docker: Docker, image: string): Promise<true | string> {
  try {
    await consumeProgress(`pull of ${image}`, await docker.pull(image));
    return true;
  } catch (err) {
    return `not on the host engine, and the pull failed (${errorMessage(err).split('\n')[0]})`;
  }
}
