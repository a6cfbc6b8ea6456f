import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { NestorError } from '../errors.ts';
import { jobPlansOf, loadPlans } from './load.ts';
import { DEFAULT_STEP_IMAGE } from '../config.ts';
import { planGraph } from './plan-graph.ts';
import type { CompileAnswer, CompileRequest, SerializedError } from './compile-pool.ts';

/**
 * A thread of the compile pool: compiles one pipeline at a time, as a runner will, and answers
 * whether it compiles. Errors cross the thread as their toJSON() (code, hint, problems), since
 * a structured clone keeps no class.
 */
yieldToTheEventLoop();

parentPort!.on('message', (request: CompileRequest) => {
  let answer: CompileAnswer;
  try {
    const plans = 'pipeline' in request
      ? jobPlansOf(request.pipeline, { limits: request.limits })
      : loadPlans(request.checkout.dir, request.checkout.file, { defaultImage: DEFAULT_STEP_IMAGE, ...request.checkout.facts, limits: request.limits }, request.checkout.dir);
    answer = { ok: true, jobs: planGraph(plans) };
  } catch (err) {
    answer = err instanceof NestorError
      ? { ok: false, error: err.toJSON() as unknown as SerializedError }
      : { ok: false, error: { error: 'NESTOR_INTERNAL', message: err instanceof Error ? (err.stack ?? err.message) : String(err), hint: '' } };
  }
  parentPort!.postMessage(answer);
});
// Loading the pipeline code takes a while; a compile's time is counted from here.
parentPort!.postMessage({ ready: true });

/**
 * Lowers this thread's priority (Linux schedules threads one by one): where cores are few, a
 * compile then takes the CPU only when the thread that answers requests does not need it.
 * Elsewhere, or where it is not allowed, the thread runs at the usual priority.
 */
function yieldToTheEventLoop(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid !== process.pid) setPriority(tid, 19);
  } catch {
    // not Linux, or no /proc: the default priority
  }
}
