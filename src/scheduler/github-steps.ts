import { randomBytes } from 'node:crypto';
import type { OutputSink, StepSpec } from '../backend/backend.ts';
import { errorMessage } from '../errors.ts';
import type { JobPlan, PlanStep } from '../pipeline/plan.ts';
import { jobOutputs, leaveAction, newJobState, prepareStep, stepLine, takeFiles, type GithubJobState, type NeededJob } from '../pipeline/github/step-runtime.ts';
import type { StepResult } from './results.ts';
import type { SecretMasker } from './secret-masker.ts';

/**
 * One GitHub Actions job as it runs: the state its steps' expressions read (the outputs and
 * outcomes of the steps before, the variables and paths they left), each step finished from it
 * as it starts, and each step's output read for workflow commands (`::add-mask::`,
 * `::group::`, `::error::`) and for the runner's own marker lines, which never reach the log.
 */
export class GithubJobRun {
  readonly state: GithubJobState;
  private readonly plan: JobPlan;
  private readonly masker: SecretMasker;
  private readonly outputs = new Map<string, Record<string, string>>();

  constructor(plan: JobPlan, masker: SecretMasker, secrets: Record<string, string>, needs: Record<string, NeededJob> = {}, hashFiles?: (patterns: string[]) => string) {
    this.plan = plan;
    this.masker = masker;
    this.state = newJobState(randomBytes(12).toString('hex'), secrets, needs);
    if (hashFiles) this.state.hashFiles = hashFiles;
  }

  /** The step's spec as it runs now, or why it does not run. */
  prepare(step: PlanStep, spec: StepSpec): { skip: string } | { spec: StepSpec; say: string[]; collect?: StepSpec } {
    const job = this.plan.github!;
    const index = this.plan.steps.indexOf(step);
    try {
      const ready = prepareStep(job, step.github!, this.state, spec.environment, this.plan.workspace, index);
      if ('skip' in ready) return ready;
      const { script: _script, command: _command, ...rest } = spec;
      return {
        spec: { ...rest, ...(ready.script !== undefined ? { script: ready.script } : {}), ...(ready.command?.length ? { command: ready.command } : spec.command ? { command: spec.command } : {}), environment: ready.environment, workingDir: ready.workingDir },
        say: ready.say ?? [],
        // Run in the job container after the step's own container, with the step's sink.
        ...(ready.collect !== undefined ? { collect: { ...rest, name: `${spec.name} (files)`, script: ready.collect, environment: {}, secrets: [], mounts: [], workingDir: this.plan.workspace, execIn: job.container } } : {}),
      };
    } catch (err) {
      // An expression that fails at run time fails its step, as on GitHub, and says why.
      return { spec: { ...spec, script: `echo ${JSON.stringify(`Error: ${errorMessage(err)}`)} >&2; exit 1`, environment: spec.environment }, say: [] };
    }
  }

  /** The step's sink, reading workflow commands out of its output. */
  sink(step: PlanStep, inner: OutputSink): OutputSink {
    const outputs: Record<string, string> = {};
    this.outputs.set(step.github!.id, outputs);
    let stopToken: string | undefined;
    return {
      full: inner.full,
      line: (stream, text) => {
        if (stopToken !== undefined) {
          if (text === `::${stopToken}::`) stopToken = undefined;
          else inner.line(stream, text);
          return;
        }
        const command = stepLine(text, this.state.nonce);
        if (!command) return inner.line(stream, text);
        switch (command.kind) {
          case 'files':
            takeFiles(this.state, command.file, command.content, outputs);
            return;
          case 'mask':
            this.masker.add(command.value);
            this.state.masks.push(command.value);
            return;
          case 'output':
            outputs[command.name] = command.value;
            return;
          case 'env':
            this.state.env[command.name] = command.value;
            return;
          case 'path':
            this.state.path.unshift(command.value);
            return;
          case 'group':
            return inner.line(stream, `▾ ${command.title}`);
          case 'endgroup':
            return;
          case 'annotation':
            if (command.level === 'debug') return;
            return inner.line('stderr', `${command.level}: ${command.where ? `${command.where}: ` : ''}${command.message}`);
          case 'stop':
            stopToken = command.token;
            return;
          default:
            return inner.line(stream, text);
        }
      },
    };
  }

  /** After a step: its outcome (and conclusion, after continue-on-error) for `steps.ID`, and the job's status. */
  finish(step: PlanStep, result: StepResult): void {
    const id = step.github!.id;
    const outcome = result.status === 'success' ? 'success' : result.status === 'skipped' ? 'skipped' : result.status === 'cancelled' ? 'cancelled' : 'failure';
    const conclusion = outcome === 'failure' && result.status === 'ignored' ? 'success' : outcome;
    this.state.steps[id] = { outputs: this.outputs.get(id) ?? {}, outcome, conclusion };
    if (conclusion === 'failure') this.state.failed = true;
    if (outcome === 'cancelled') this.state.cancelled = true;
    const frame = step.github!.action;
    if (frame) leaveAction(this.plan.github!, frame, this.state);
  }

  /** The job's `outputs`, from its steps', once they have ended. */
  jobOutputs(): Record<string, string> {
    return jobOutputs(this.plan.github!, this.state);
  }
}
