import type { EngineClient } from '../engine/engine-client.ts';
import { errorMessage } from '../errors.ts';
import { diagnose } from './diagnose.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'not-run';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  cause?: string;
  fix?: string;
  durationMs: number;
}

export interface DoctorContext {
  host: EngineClient;
  /** The image probes run (bootstrapped busybox). */
  probeImage: string;
  env: NodeJS.ProcessEnv;
}

export type Finding = { status: CheckStatus; detail: string; cause?: string; fix?: string };

export interface Check {
  id: string;
  title: string;
  /** Checks that need the daemon do not run when it is unreachable. */
  needsDaemon: boolean;
  run(ctx: DoctorContext): Promise<Finding>;
}

export const pass = (detail: string): Finding => ({ status: 'pass', detail });
export const warn = (detail: string, fix?: string): Finding => ({ status: 'warn', detail, ...(fix ? { fix } : {}) });

/** A failure with the known cause and fix for its message, or the given ones. */
export function fail(detail: string, fallback?: { cause?: string; fix?: string }): Finding {
  const known = diagnose(detail);
  return { status: 'fail', detail, ...(fallback ?? {}), ...(known ?? {}) };
}

export async function runCheck(check: Check, ctx: DoctorContext): Promise<CheckResult> {
  const started = performance.now();
  let finding: Finding;
  try {
    finding = await check.run(ctx);
  } catch (err) {
    finding = fail(errorMessage(err));
  }
  return { id: check.id, title: check.title, ...finding, durationMs: Math.round(performance.now() - started) };
}
