import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import pino from 'pino';
import type { EngineClient } from '../../src/engine/engine-client.ts';
import { sshLogin } from '../../src/engine/docker-host.ts';
import { ImageSupply } from '../../src/engine/images/supply.ts';
import { LABEL_FUNCTION, LABEL_MANAGED } from '../../src/engine/labels.ts';
import { removeLabelled } from '../../src/engine/cleanup.ts';
import { LABEL_FUNCTIONS_APP } from '../../src/gitops/function-engines.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import type { GitopsConfig } from '../../src/gitops/service.ts';
import { ADMIN, REGISTRATION, api } from '../server/harness.ts';

export const SECRET = 'webhook-secret-for-tests';
/** The key sealing the store's secrets: one for all test servers, as servers sharing a database need. */
export const TEST_SECRET_KEY = Buffer.alloc(32, 0x5e);

/** A real Git repository: a bare "origin" the server watches, and a clone the test commits in. */
export class TestRepo {
  readonly origin: string;
  readonly work: string;

  constructor() {
    const dir = mkdtempSync(join(tmpdir(), 'nestor-git-'));
    this.origin = join(dir, 'origin.git');
    this.work = join(dir, 'work');
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', this.origin]);
    execFileSync('git', ['init', '--quiet', '--initial-branch=main', this.work]);
    this.git('remote', 'add', 'origin', this.origin);
  }

  git(...args: string[]): string {
    return execFileSync('git', ['-C', this.work, '-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], { encoding: 'utf8' }).trim();
  }

  link(path: string, target: string): void {
    mkdirSync(dirname(join(this.work, path)), { recursive: true });
    symlinkSync(target, join(this.work, path));
  }

  /** Writes files (path → content) and commits and pushes them; returns the commit. */
  commit(message: string, files: Record<string, string>): string {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.work, path)), { recursive: true });
      writeFileSync(join(this.work, path), content);
    }
    this.git('add', '-A');
    this.git('commit', '--quiet', '-m', message);
    this.git('push', '--quiet', 'origin', 'main');
    return this.git('rev-parse', 'HEAD');
  }
}

export function manifest(name: string, repo: string, functions: string, extra = ''): string {
  return `apiVersion: nestor.dev/v1
kind: Application
metadata:
  name: ${name}
  namespace: team
spec:
  source:
    repoURL: ${repo}
    branch: main
${extra}  functions:
${functions}`;
}

/** A function whose image runs its request body as a shell script: any behaviour on demand. */
export const SHELL_FUNCTION = (greeting: string) => `FROM busybox:latest\nENV GREETING=${greeting}\nCMD ["sh"]\n`;

export async function gitopsServer(host: EngineClient, extra: Partial<GitopsConfig> = {}, logTo?: { write(line: string): void }, databaseUrl?: string): Promise<{ server: RunningServer; supply: ImageSupply; close: () => Promise<void> }> {
  const supply = await ImageSupply.start(host);
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'nestor-gitops-')),
    ...(databaseUrl ? { databaseUrl } : {}),
    adminToken: ADMIN,
    registrationToken: REGISTRATION,
    logger: logTo ? pino({ level: 'debug' }, logTo) : pino({ level: process.env.NESTOR_TEST_LOG ?? 'silent' }),
    // Test repositories live in the temporary directory: the one local root these servers allow.
    gitops: { host, supply, tickMs: 200, buildWarm: 1, localRepoRoots: [tmpdir()], secretKey: TEST_SECRET_KEY, gitEnv: process.env, sshLogin: sshLogin(process.env), ...extra },
  });
  return {
    server,
    supply,
    async close() {
      await server.close();
      await supply.close();
      await removeFunctionImages(host);
      await removeFunctionEngines(host);
    },
  };
}

/** One GitOps server for a test file: started before its first test, closed after its last. */
export function serverForFile(host: EngineClient, extra: Partial<GitopsConfig> = {}): { readonly base: string } {
  let env: Awaited<ReturnType<typeof gitopsServer>> | undefined;
  before(async () => {
    env = await gitopsServer(host, extra);
  });
  after(async () => env?.close());
  return {
    get base() {
      return env!.server.url;
    },
  };
}

/**
 * Deployed functions' images stay on their engine when a server stops (a restart serves them
 * again); a test's server is gone for good, so its images go too: the suite leaves nothing.
 */
export async function removeFunctionImages(host: EngineClient): Promise<void> {
  const images = await host.docker.listImages({ filters: JSON.stringify({ label: [LABEL_FUNCTION] }) });
  for (const image of images) await host.docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
}

/**
 * Applications' own engines outlive a server too (they keep its images for the next start);
 * those of a test's applications go with the test.
 */
export async function removeFunctionEngines(host: EngineClient): Promise<void> {
  await removeLabelled(host.docker, [`${LABEL_MANAGED}=true`, LABEL_FUNCTIONS_APP]);
}

/** Sends a push webhook the way GitHub signs it. */
export async function githubPush(base: string, repo: string, commit: string, secret = SECRET): Promise<Response> {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { clone_url: `file://${repo}` } });
  const sig = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return fetch(`${base}/api/webhooks/git`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': sig }, body });
}

/** Sends a push webhook the way Gitea signs it. */
export async function giteaPush(base: string, repo: string, commit: string, secret = SECRET): Promise<Response> {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { clone_url: repo } });
  const sig = createHmac('sha256', secret).update(body).digest('hex');
  return fetch(`${base}/api/webhooks/git`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gitea-event': 'push', 'x-gitea-signature': sig }, body });
}

type Deployment = { seq: number; status: string; commit: string; error: string | null; functions: { path: string; image: string }[] };

/** Waits until the application has a finished deployment of `commit`. */
export async function deploymentOf(base: string, app: string, commit: string, timeoutMs = 90_000): Promise<Deployment> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await api<{ deployments: Deployment[] }>(base, 'GET', `/api/apps/team/${app}/deployments`);
    const d = r.body.deployments?.find((x) => x.commit === commit && x.status !== 'syncing');
    if (d && (d.status === 'deployed' || d.status === 'failed')) return d;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`no finished deployment of ${commit} for ${app} within ${timeoutMs} ms`);
}

export async function invoke(base: string, path: string, body = '', init: RequestInit = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${base}/fn/team/${path}`, { method: 'POST', body, ...init });
  return { status: res.status, text: await res.text(), headers: res.headers };
}
