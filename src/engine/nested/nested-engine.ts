import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsMaterial } from '../docker-host.ts';
import { ping, type EngineClient } from '../engine-client.ts';
import { containerLogTail } from '../container-logs.ts';
import { removeLabelled } from '../cleanup.ts';
import { LABEL_ENGINE, LABEL_MANAGED } from '../labels.ts';
import type { ResolvedIsolation } from './isolation.ts';
import { errorMessage } from '../../errors.ts';

export interface EngineHealth {
  healthy: boolean;
  reason?: string;
  checkedInMs: number;
}

export interface NestedEngineInit {
  name: string;
  isolation: ResolvedIsolation;
  host: EngineClient;
  client: EngineClient;
  containerId?: string;
  network: string;
  tls?: TlsMaterial;
  /** Host images present from the start through shared layers. */
  sharedImages?: string[];
  /** Things the provisioner decided on the user's behalf, e.g. a fall-back from privileged. */
  notices: string[];
  readyMs: number;
  /** Started with BACKGROUND_CPU_SHARES (ProvisionOptions.background), until foreground(). */
  background?: boolean;
}

/** Docker's least CPU weight, and its default one (a container that sets none has it). */
export const BACKGROUND_CPU_SHARES = 2;
export const FOREGROUND_CPU_SHARES = 1024;

/**
 * One job's own Docker daemon. It is used by exactly one job and then destroyed; nothing about
 * it is reused, which is what makes a job's engine state trustworthy.
 */
export class NestedEngine {
  readonly name: string;
  readonly isolation: ResolvedIsolation;
  readonly host: EngineClient;
  readonly client: EngineClient;
  readonly containerId: string | undefined;
  readonly network: string;
  readonly tls: TlsMaterial | undefined;
  readonly sharedImages: string[];
  readonly notices: string[];
  readonly readyMs: number;
  private background: boolean;
  private destroyed: Promise<void> | undefined;
  private paused = false;
  private transition: Promise<void> = Promise.resolve();

  constructor(init: NestedEngineInit) {
    this.name = init.name;
    this.isolation = init.isolation;
    this.host = init.host;
    this.client = init.client;
    this.containerId = init.containerId;
    this.network = init.network;
    this.tls = init.tls;
    this.sharedImages = init.sharedImages ?? [];
    this.notices = init.notices;
    this.background = init.background ?? false;
    this.readyMs = init.readyMs;
  }

  get docker() {
    return this.client.docker;
  }

  /** DOCKER_HOST and friends for a Docker CLI on this machine; writes the client certs to `certDir`. */
  cliEnvironment(certDir: string): Record<string, string> {
    if (!this.tls || this.client.endpoint.kind !== 'tls') {
      return this.client.endpoint.kind === 'unix' ? { DOCKER_HOST: `unix://${this.client.endpoint.socketPath}` } : {};
    }
    mkdirSync(certDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(certDir, 'ca.pem'), this.tls.ca);
    writeFileSync(join(certDir, 'cert.pem'), this.tls.cert);
    writeFileSync(join(certDir, 'key.pem'), this.tls.key, { mode: 0o600 });
    return {
      DOCKER_HOST: `tcp://${this.client.endpoint.host}:${this.client.endpoint.port}`,
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: certDir,
    };
  }

  /**
   * Healthy means the daemon answers within the deadline. The sidecar's state is asked of the
   * host engine at the same time, so a killed engine is reported at once, not after a timeout.
   */
  async health(deadlineMs = 1000): Promise<EngineHealth> {
    const started = performance.now();
    const done = (healthy: boolean, reason?: string): EngineHealth => ({
      healthy,
      ...(reason ? { reason } : {}),
      checkedInMs: Math.round(performance.now() - started),
    });
    const sidecarDown = this.containerId
      ? this.host.docker
          .getContainer(this.containerId)
          .inspect()
          .then((i) => (i.State.Running ? new Promise<string>(() => {}) : `engine container is ${i.State.Status} (exit ${i.State.ExitCode})`))
          .catch((err: unknown) => `engine container is gone: ${errorMessage(err)}`)
      : new Promise<string>(() => {});
    try {
      const outcome = await Promise.race([ping(this.client, deadlineMs).then(() => null), sidecarDown]);
      return outcome === null ? done(true) : done(false, outcome);
    } catch (err) {
      return done(false, errorMessage(err));
    }
  }

  async logTail(lines = 30): Promise<string> {
    if (!this.containerId) return '';
    return containerLogTail(this.host.docker.getContainer(this.containerId), lines);
  }

  /**
   * Freezes the engine (its sidecar and every process in it, through the freezer cgroup) while
   * nobody uses it: a daemon kept warm costs no CPU at rest. Answers whether it was frozen;
   * engines without a sidecar (socket mode) are not.
   */
  async pause(): Promise<boolean> {
    if (!this.containerId) return false;
    const id = this.containerId;
    // Serialised with resume(): a job that acquires the engine while it is being frozen waits
    // for the freeze to finish and then thaws it, and never gets a frozen engine.
    this.transition = this.transition.catch(() => undefined).then(async () => {
      if (this.paused) return;
      await this.host.docker.getContainer(id).pause();
      this.paused = true;
    });
    await this.transition;
    return true;
  }

  /**
   * A job has the engine: its container gets the CPU weight of any other (FOREGROUND_CPU_SHARES)
   * if it was started in the background with the least.
   */
  async foreground(): Promise<void> {
    if (!this.background || !this.containerId) return;
    this.background = false;
    await this.host.docker.getContainer(this.containerId).update({ CpuShares: FOREGROUND_CPU_SHARES });
  }

  /** Thaws a paused engine (tens of milliseconds); it answers at once after. */
  async resume(): Promise<void> {
    if (!this.containerId) return;
    const id = this.containerId;
    this.transition = this.transition.catch(() => undefined).then(async () => {
      if (!this.paused) return;
      await this.host.docker.getContainer(id).unpause();
      this.paused = false;
    });
    await this.transition;
  }

  /** Removes the sidecar, its network and storage, and anything else labelled with this engine. */
  destroy(): Promise<void> {
    this.destroyed ??= removeLabelled(this.host.docker, [`${LABEL_MANAGED}=true`, `${LABEL_ENGINE}=${this.name}`]).then(() => undefined);
    return this.destroyed;
  }
}
