import type Docker from 'dockerode';
import type { NestedEngine } from '../../engine/nested/nested-engine.ts';

/** What every container of one job shares: its engine, network, volumes and labels. */
export interface JobContext {
  id: string;
  engine: NestedEngine;
  docker: Docker;
  /**
   * `host` in a nested engine: every container of the job shares the engine's own network
   * namespace, which belongs to this job alone. Names (the engine's `docker` alias, services,
   * detached steps) resolve to 127.0.0.1. It starts containers about twice as fast as a
   * bridge, which needs a veth pair and NAT rules per container. In socket mode, where `host`
   * would be the real host, a bridge network of the job's own.
   */
  network: string;
  /** Names that resolve to the job's engine (host networking only): see engine-transport.ts. */
  engineNames: string[];
  /** Names every container resolves to 127.0.0.1 (host networking only). */
  localNames: string[];
  /** Where the engine answers plain HTTP to the job's containers, when the file turned TLS off. */
  plainPort?: number;
  /** Whether the engine is thrown away after the job, taking everything in it along. */
  disposable: boolean;
  workspaceVolume: string;
  /** Where the workspace volume lives in the engine's filesystem, for sub-path mounts. */
  workspaceMountpoint: string;
  /** The job's volume names as written in the file → the volume made for this job. */
  volumes: Map<string, string>;
  labels: Record<string, string>;
  secrets: Record<string, string>;
}
