import { NestorError } from '../errors.ts';

/** Errors any backend answers with, so that the scheduler and the user see one shape for each cause. */

/** A service that exited, or did not accept connections on its ports in time (`Backend.startService`). */
export class ServiceNotReadyError extends NestorError {
  constructor(service: string, why: string) {
    super(
      'NESTOR_SERVICE_NOT_READY',
      `Service ${service} did not become ready: ${why}`,
      'Read the service log lines above; check its image, environment and `ports` (the ports it must accept connections on).',
    );
  }
}

/** A path `Backend.readWorkspace` was asked for that is not in the job's workspace. */
export class WorkspacePathMissingError extends NestorError {
  constructor(path: string, why: string) {
    super('NESTOR_ARTIFACT_MISSING', `${path} is not in the workspace: ${why}`, 'Check that a step of the job writes it, under the workspace, before the job ends.');
  }
}
