import type Docker from 'dockerode';
import type { NestedEngine } from '../engine/nested/nested-engine.ts';

/** What every container of one job shares: its engine, network, volumes and labels. */
export interface JobContext {
  id: string;
  engine: NestedEngine;
  docker: Docker;
  network: string;
  /** The job network's gateway: where containers reach their engine's TLS port. */
  gateway: string | undefined;
  workspaceVolume: string;
  /** Where the workspace volume lives in the engine's filesystem, for sub-path mounts. */
  workspaceMountpoint: string;
  /** The job's volume names as written in the file → the volume made for this job. */
  volumes: Map<string, string>;
  labels: Record<string, string>;
  secrets: Record<string, string>;
}

/** Socket mode has no engine of its own: containers get the host's socket instead of TLS. */
export function usesHostSocket(ctx: JobContext): boolean {
  return ctx.engine.isolation === 'socket';
}
