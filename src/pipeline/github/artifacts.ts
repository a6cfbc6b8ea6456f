import type { JobPlan } from '../plan.ts';

/**
 * `actions/upload-artifact` and `download-artifact` between the jobs of one run, through the
 * artifact store every format's jobs use: a job that uploads keeps its workspace's
 * `.nestor-artifacts/` folder (each artifact under its name, github/step-runtime.ts), and a job
 * that downloads gets those of every job it needs, directly or through others, unpacked into its
 * workspace before it starts.
 */
export const ARTIFACTS_DIR = '.nestor-artifacts';

export function withWorkflowArtifacts(plans: JobPlan[]): JobPlan[] {
  if (!plans.some((p) => p.github?.downloads || p.github?.uploads)) return plans;
  // By pipeline, the jobs it waits for named as plans name them: a called workflow's jobs are
  // `CALLER / JOB` and wait for their caller's needs too, so a job id alone would not say which.
  const byJob = new Map<string, JobPlan[]>();
  for (const p of plans) if (p.github) byJob.set(p.pipeline, [...(byJob.get(p.pipeline) ?? []), p]);
  const ancestors = (id: string, seen = new Set<string>()): Set<string> => {
    for (const need of byJob.get(id)?.[0]?.needs ?? []) {
      if (seen.has(need)) continue;
      seen.add(need);
      ancestors(need, seen);
    }
    return seen;
  };
  return plans.map((p) => {
    if (!p.github) return p;
    const from = p.github.downloads ? [...ancestors(p.pipeline)].flatMap((id) => (byJob.get(id) ?? []).filter((u) => u.github?.uploads).map((u) => u.name)) : [];
    return {
      ...p,
      ...(p.github.uploads ? { artifacts: { paths: [`${ARTIFACTS_DIR}/`], exclude: [], when: 'always' as const, expireInMs: null } } : {}),
      ...(from.length ? { artifactsFrom: from } : {}),
    };
  });
}
