import type { EngineClient } from '../engine/engine-client.ts';
import { BASE_ALIAS } from '../engine/images/image-names.ts';
import { runCheck, type CheckResult, type DoctorContext } from './check.ts';
import { engineChecks } from './engine-checks.ts';
import { hostChecks } from './host-checks.ts';

export interface DoctorReport {
  ok: boolean;
  engine: string;
  checks: CheckResult[];
}

/** Runs every check in order; once the daemon is known unreachable, checks that need it are not run. */
/** `env`: the environment the checks read (DOCKER_HOST and the like): process.env at the edge. */
export async function runDoctor(host: EngineClient, opts: { onResult?: (r: CheckResult) => void; env: NodeJS.ProcessEnv }): Promise<DoctorReport> {
  const ctx: DoctorContext = { host, probeImage: BASE_ALIAS, env: opts.env };
  const checks = [...engineChecks(), ...hostChecks];
  const results: CheckResult[] = [];
  let daemonUp = true;
  for (const check of checks) {
    const result: CheckResult =
      check.needsDaemon && !daemonUp
        ? { id: check.id, title: check.title, status: 'not-run', detail: 'the daemon is unreachable', durationMs: 0 }
        : await runCheck(check, ctx);
    if (check.id === 'daemon' && result.status === 'fail') daemonUp = false;
    results.push(result);
    opts.onResult?.(result);
  }
  return { ok: results.every((r) => r.status !== 'fail'), engine: host.address, checks: results };
}
