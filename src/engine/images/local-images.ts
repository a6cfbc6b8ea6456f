import type Docker from 'dockerode';
import { NestorError } from '../../errors.ts';
import { LOCAL_DIND_IMAGE, OFFICIAL_DIND_IMAGE } from './image-names.ts';

export class ImageMissingError extends NestorError {
  constructor(wanted: string[]) {
    super(
      'NESTOR_IMAGE_MISSING',
      `None of these images is on the engine: ${wanted.join(', ')}`,
      'Run `nestor images bootstrap` (it pulls them, or builds local ones where no registry can be reached).',
    );
  }
}

/** Whether the engine has the image. An engine that fails to answer is an error, not a missing image. */
export async function imageExists(docker: Docker, name: string): Promise<boolean> {
  try {
    await docker.getImage(name).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** The first of `candidates` the engine has. */
export async function firstPresent(docker: Docker, candidates: string[]): Promise<string> {
  for (const name of candidates) if (await imageExists(docker, name)) return name;
  throw new ImageMissingError(candidates);
}

/** Images a site prefers for nested engines (config.ts `engineImages`: NESTOR_ROOTLESS_IMAGE, NESTOR_DIND_IMAGE). */
export interface EngineImages {
  rootless?: string;
  dind?: string;
}

/**
 * The image of rootless engines: Nestor's own (it carries rootlesskit, slirp4netns, newuidmap
 * and the user to run as; `docker:dind` does not), or `preferred`, built like it.
 */
export function rootlessImage(docker: Docker, preferred?: string): Promise<string> {
  return firstPresent(docker, [...(preferred ? [preferred] : []), LOCAL_DIND_IMAGE]);
}

/** `preferred`, else the official image where the site has it, otherwise the one `images bootstrap` built. */
export function dindImage(docker: Docker, preferred?: string): Promise<string> {
  return firstPresent(docker, [...(preferred ? [preferred] : []), OFFICIAL_DIND_IMAGE, LOCAL_DIND_IMAGE]);
}
