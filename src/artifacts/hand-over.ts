import { NestorError, errorMessage } from '../errors.ts';
import { formatBytes } from '../format-bytes.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import type { JobResult } from '../scheduler/results.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { joinArchives, type ArchivePart } from '../engine/archive.ts';
import { artifactRoots, selectArtifacts } from './select.ts';

/** Reads paths of a finished job's workspace as one tar stream (`Backend.readWorkspace`). */
export type WorkspaceReader = (paths: string[]) => Promise<AsyncIterable<Uint8Array>>;

/**
 * Artifacts between the jobs of one pipeline run: what each job keeps once it has ended (its
 * `artifacts`, by its outcome), and the workspace each later job starts from (the source, then
 * the artifacts of the jobs it takes them from, in order, each over the one before).
 */
export class ArtifactHandOver {
  private readonly store: ArtifactStore;
  private readonly run: string;
  /** The source's files, for GitLab's `artifacts: untracked` (every other file of the workspace). */
  private readonly sourceFiles: (() => Promise<ReadonlySet<string>>) | undefined;

  constructor(store: ArtifactStore, run: string, sourceFiles?: () => Promise<ReadonlySet<string>>) {
    this.store = store;
    this.run = run;
    this.sourceFiles = sourceFiles;
  }

  /** The job's workspace content: the source when it copies it, then the artifacts it is given. */
  workspaceOf(plan: JobPlan, source: (() => AsyncIterable<Uint8Array>) | undefined, notice: (text: string) => void): (() => AsyncIterable<Uint8Array>) | undefined {
    const from = plan.artifactsFrom ?? [];
    if (!from.length) return plan.copySource ? source : undefined;
    return () => {
      const parts: ArchivePart[] = plan.copySource && source ? [() => source()] : [];
      for (const job of from) {
        parts.push(async () => {
          const archive = await this.store.open(this.run, job);
          notice(archive ? `artifacts of ${job} unpacked into the workspace` : `artifacts of ${job}: none were kept (it failed before keeping them, left none, or they expired)`);
          return archive;
        });
      }
      return joinArchives(parts);
    };
  }

  /** Keeps what the job leaves, if its outcome says so; what went wrong is said, never thrown. */
  async keep(plan: JobPlan, result: JobResult, read: WorkspaceReader, notice: (text: string) => void): Promise<void> {
    const rule = plan.artifacts;
    if (!rule) return;
    const passed = result.status === 'success';
    if ((rule.when === 'on_success' && !passed) || (rule.when === 'on_failure' && passed)) return;
    const missing: string[] = [];
    const untracked = rule.untracked ? ((await this.sourceFiles?.().catch(() => undefined)) ?? new Set<string>()) : undefined;
    const parts = (untracked ? ['.'] : artifactRoots(rule.paths)).map((root) => async () => {
      try {
        return await read([root]);
      } catch (err) {
        if (err instanceof NestorError && err.code === 'NESTOR_ARTIFACT_MISSING') {
          missing.push(root);
          return undefined;
        }
        throw err;
      }
    });
    const count = { files: 0, bytes: 0 };
    try {
      const stored = await this.store.put(this.run, plan.name, selectArtifacts(joinArchives(parts), { paths: rule.paths, exclude: rule.exclude, ...(untracked ? { untracked } : {}) }, count), rule.expireInMs === null ? null : Date.now() + rule.expireInMs);
      const absent = missing.length ? `; not in the workspace: ${missing.join(', ')}` : '';
      const wanted = [...rule.paths, ...(untracked ? ['the untracked files'] : [])].join(', ');
      if (!count.files) notice(`artifacts: no file matched ${wanted}${absent}; the jobs after it get none`);
      else notice(`artifacts: kept ${count.files} file${count.files === 1 ? '' : 's'} (${formatBytes(count.bytes)}, ${formatBytes(stored.bytes)} archived)${absent}`);
    } catch (err) {
      notice(`artifacts: none kept: ${errorMessage(err)}`);
    }
  }
}
