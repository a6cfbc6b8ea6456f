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
