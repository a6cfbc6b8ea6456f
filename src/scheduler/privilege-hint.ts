import type { OutputSink } from '../backend/backend.ts';

/**
 * A step that asks its job's engine for a privileged container of its own (a script's
 * `docker run --privileged docker:dind`) gets Docker's bare refusal where the engine cannot
 * give one. This reads the step's output for that refusal, so that a failed step says which
 * step needed what, and where it can have it.
 */

const REFUSALS = /error mounting "sysfs"|mount sysfs:|unable to apply caps/;

export function watchPrivilegeRefusal(sink: OutputSink): { sink: OutputSink; refused: () => boolean } {
  let refused = false;
  return {
    sink: {
      full: sink.full,
      line: (stream, text) => {
        if (!refused && stream === 'stderr' && REFUSALS.test(text)) refused = true;
        sink.line(stream, text);
      },
    },
    refused: () => refused,
  };
}

/** What to tell the user, by the isolation the job's engine has. */
export function privilegeHint(step: string, isolation: string): string {
  const why =
    isolation === 'rootless'
      ? 'a rootless engine cannot give one: it lives in a user namespace, where /sys cannot be mounted afresh'
      : `this ${isolation} engine could not give one on this host`;
  return `step ${step} started a privileged container in the job's engine (docker run --privileged), and ${why}. Run the job where the engine itself is privileged: on a trusted runner (nestor run --mode dind, or nestor runner --trusted --mode dind); or let the step use the job's own engine, which every step already reaches through DOCKER_HOST, instead of a daemon of its own`;
}
