/**
 * The engine-neutral plan a pipeline compiles to: what to run, in which order, with which
 * mounts. The runner executes it on a nested engine; nothing here knows about Docker's API.
 */

export type PlanMount =
  /** The job's source, shared by every step. */
  | { kind: 'workspace'; target: string; subPath?: string; readOnly: boolean }
  /** A volume that lives as long as the job. */
  | { kind: 'volume'; name: string; target: string; readOnly: boolean }
  /** A host path: trusted jobs only. */
  | { kind: 'host'; path: string; target: string; readOnly: boolean }
  /** The job engine's own /var/run (its docker.sock), for the Drone/Woodpecker sharing pattern. */
  | { kind: 'engine-run'; target: string }
  /** The job engine's docker.sock itself. */
  | { kind: 'engine-socket'; target: string }
  /** The client certificates for the job engine's TLS endpoint. */
  | { kind: 'engine-certs'; target: string };

export interface PlanContainer {
  name: string;
  image: string;
  /** A shell script to run with /bin/sh; absent: the image's own entrypoint and command. */
  script?: string;
  /** The commands as the file wrote them (the script runs these), for `nestor plan` to show. */
  commands?: string[];
  entrypoint?: string[];
  command?: string[];
  environment: Record<string, string>;
  /** Secret values to inject by name, as `env`; their values are masked in every log. */
  secrets: { name: string; env: string }[];
  privileged: boolean;
  mounts: PlanMount[];
  /** Extra names each resolving to the job's engine (its `docker` alias and dind services). */
  engineAliases: string[];
  networkMode?: string;
  workingDir: string;
}

export interface PlanStep extends PlanContainer {
  dependsOn: string[];
  /** Which outcome of the job so far lets it run. */
  runOn: ('success' | 'failure')[];
  timeoutMs: number;
  ignoreFailure: boolean;
  detach: boolean;
  /** Why the step will not run (its `when` did not match), when that is known before the run. */
  notRunBecause?: string;
}

export interface PlanService extends PlanContainer {
  aliases: string[];
  /** TCP ports whose accepting a connection means ready; none: ready once running. */
  ports: number[];
}

export interface JobPlan {
  /** Unique in the pipeline: the pipeline name plus matrix values. */
  name: string;
  pipeline: string;
  matrix: Record<string, string>;
  workspace: string;
  steps: PlanStep[];
  services: PlanService[];
  /** Job-scoped volumes to make before anything runs. */
  volumes: string[];
  /** Every image the job names, to have ready in its engine before the first step. */
  images: string[];
  /** Whether the source is copied into the workspace before the first step. */
  copySource: boolean;
  /** Messages about how the file was understood (e.g. a dind service served by the job engine). */
  notices: string[];
}
