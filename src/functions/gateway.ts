import type Docker from 'dockerode';
import { NestorError } from '../errors.ts';
import { FunctionService, type InvocationResult, type ServiceSpec } from './function-service.ts';
import { instanceUser, userNamespaced } from './instance.ts';
import type { FunctionRequest } from './request-env.ts';
import { BackgroundWork } from '../background-work.ts';

export class FunctionNotFoundError extends NestorError {
  constructor(id: string) {
    super('NESTOR_FUNCTION_NOT_FOUND', `No function is deployed at ${id}`, 'Check the namespace and path with `nestor apps list`, or wait for the application\'s first deployment.');
  }
}

/** How a deployed function runs: what a deployment records for it besides the image. */
export interface FunctionSettings {
  env: Record<string, string>;
  memoryMb: number;
  cpus: number;
  timeoutMs: number;
  concurrency: number;
  /** Started instances kept waiting for requests. */
  warm: number;
  /** Idle time before an instance beyond `warm` is removed; 0 removes it after its request. */
  idleTimeoutMs?: number;
  network: 'none' | 'bridge';
}

export interface DeployRequest {
  namespace: string;
  path: string;
  /** The application that owns the path; another application cannot take it. */
  app: string;
  image: string;
  settings: FunctionSettings;
  docker: Docker;
}

export const MAX_OUTPUT_BYTES = 6 * 1024 * 1024;

/** What the gateway records for each call: the server stores it and counts it. */
export type InvocationListener = (id: { namespace: string; path: string }, result: InvocationResult) => void;

/**
 * Serves `/fn/NAMESPACE/PATH`: finds the function deployed at that path (longest path first,
 * so `api` and `api/users` can both exist) and hands the request to its service.
 */
/** What a closed gateway answers: the server is stopping. */
function closedError(): NestorError {
  return new NestorError('NESTOR_SERVER_CLOSING', 'The function gateway is closed: the server is stopping', 'Sync again once the server is back; the deployment is served again at its start.');
}

export class FunctionGateway {
  private readonly services = new Map<string, { app: string; image: string; service: FunctionService }>();
  private readonly listeners: InvocationListener[] = [];
  private closed = false;

  onInvocation(listener: InvocationListener): void {
    this.listeners.push(listener);
  }

  owner(namespace: string, path: string): string | undefined {
    return this.services.get(`${namespace}/${path}`)?.app;
  }

  list(): { namespace: string; path: string; app: string; image: string; warm: number; busy: number }[] {
    return [...this.services].map(([id, s]) => {
      const [namespace = '', ...rest] = id.split('/');
      return { namespace, path: rest.join('/'), app: s.app, image: s.image, warm: s.service.warmCount, busy: s.service.busy };
    });
  }

  /** Puts `image` behind the path; the previous image's waiting instances are removed. */
  async deploy(req: DeployRequest): Promise<void> {
    const id = `${req.namespace}/${req.path}`;
    const [info, engine] = await Promise.all([req.docker.getImage(req.image).inspect(), req.docker.info() as Promise<{ SecurityOptions?: string[] }>]);
    const command = [...(info.Config.Entrypoint ?? []), ...(info.Config.Cmd ?? [])];
    const user = instanceUser(info.Config.User, userNamespaced(engine.SecurityOptions));
    const spec: ServiceSpec = { id, image: req.image, command, user, ...req.settings, maxOutputBytes: MAX_OUTPUT_BYTES };
    if (this.closed) throw closedError();
    const service = new FunctionService(req.docker, spec);
    await service.warmUp();
    if (this.closed) {
      await service.close(); // closed while the first instance started: nothing may outlive close()
      throw closedError();
    }
    const previous = this.services.get(id);
    this.services.set(id, { app: req.app, image: req.image, service });
    // The old instances finish what they serve and go; the deploy does not wait for that.
    if (previous) this.retiring.add(previous.service.close());
  }

  async undeploy(namespace: string, path: string): Promise<void> {
    const id = `${namespace}/${path}`;
    const entry = this.services.get(id);
    this.services.delete(id);
    await entry?.service.close();
    await this.settled();
  }

  /** The function serving `rest` (the URL after /fn/NAMESPACE/) and the path left for it. */
  resolve(namespace: string, rest: string): { path: string; service: FunctionService; subPath: string } | undefined {
    const segments = rest.split('/').filter(Boolean);
    for (let n = segments.length; n > 0; n--) {
      const path = segments.slice(0, n).join('/');
      const entry = this.services.get(`${namespace}/${path}`);
      if (entry) return { path, service: entry.service, subPath: `/${segments.slice(n).join('/')}` };
    }
    return undefined;
  }

  async invoke(namespace: string, rest: string, req: Omit<FunctionRequest, 'path'>): Promise<InvocationResult> {
    const found = this.resolve(namespace, rest);
    if (!found) throw new FunctionNotFoundError(`${namespace}/${rest}`);
    const result = await found.service.invoke({ ...req, path: found.subPath });
    for (const l of this.listeners) l({ namespace, path: found.path }, result);
    return result;
  }

  /** Replaced deployments shutting down. */
  private readonly retiring = new BackgroundWork();

  /** Resolves when the instances of replaced deployments are gone. */
  settled(): Promise<void> {
    return this.retiring.settled();
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.services.values()];
    this.services.clear();
    await Promise.all([...all.map((s) => s.service.close()), this.retiring.settled()]);
  }
}
