import type Docker from 'dockerode';
import { nestorLabels } from '../../engine/labels.ts';

/**
 * Makes a job's workspace volume; answers where it lives in the engine, for sub-path mounts
 * (`./dir:/target`). dockerode answers a handle, not the volume, hence the inspect.
 */
export async function createWorkspaceVolume(docker: Docker, name: string, labels: Record<string, string>): Promise<string> {
  await docker.createVolume({ Name: name, Labels: nestorLabels('workspace', labels) });
  const info = (await docker.getVolume(name).inspect()) as { Mountpoint: string };
  return info.Mountpoint;
}
