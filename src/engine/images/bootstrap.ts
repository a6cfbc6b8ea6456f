import type Docker from 'dockerode';
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { NestorError, errorMessage } from '../../errors.ts';
import { consumeProgress } from '../json-stream.ts';
import { tarOf } from '../archive.ts';
import { imageExists } from './local-images.ts';
import { splitTag } from './reference.ts';
import {
  BASE_ALIAS,
  LOCAL_BASE_IMAGE,
  LOCAL_CLI_IMAGE,
  LOCAL_DIND_IMAGE,
  LOCAL_REGISTRY_IMAGE,
  OFFICIAL_REGISTRY_IMAGE,
  ROOTLESS_USER,
} from './image-names.ts';
import { ensureRunnerImage } from './runner-image.ts';
import { ensureActionsNodeImage } from './actions-node-image.ts';

export interface BootstrapEvent {
  image: string;
  phase: 'present' | 'pulling' | 'pulled' | 'building' | 'progress' | 'built';
  detail?: string;
}

export interface BootstrapResult {
  base: string;
  dind: string;
  registry: string;
  /** The image GitHub-style jobs run in; '' when left out (withoutRunner). */
  runner: string;
  /** Where JavaScript actions get their Node (ACTIONS_NODE_IMAGE). */
  actionsNode: string;
}

export class BootstrapError extends NestorError {
  constructor(image: string, why: string, hint: string, cause?: unknown) {
    super('NESTOR_BOOTSTRAP_FAILED', `Could not make ${image}: ${why}`, hint, { cause });
  }
}

export type Progress = (e: BootstrapEvent) => void;

/**
 * Makes sure the images Nestor needs exist on the host engine: pulled where a registry answers,
 * built here from Debian's packages where none does (air-gapped sites). Idempotent: an image
 * already present is left alone.
 */
export async function bootstrapImages(
  docker: Docker,
  opts: { onProgress?: Progress; withoutDind?: boolean; withoutRunner?: boolean; force?: boolean; debianMirror?: string } = {},
): Promise<BootstrapResult> {
  const say = opts.onProgress ?? (() => {});
  const base = await ensureBaseImage(docker, say, opts.force);
  const registry = await ensureRegistryImage(docker, say, opts.force);
  const dind = opts.withoutDind ? '' : await ensureDindImage(docker, say, opts.force, opts.debianMirror);
  const runner = opts.withoutRunner ? '' : await ensureRunnerImage(docker, say, opts.force, opts.debianMirror);
  const actionsNode = opts.withoutRunner ? '' : await ensureActionsNodeImage(docker, say, opts.force);
  return { base, dind, registry, runner, actionsNode };
}

async function tryPull(docker: Docker, image: string, say: Progress): Promise<boolean> {
  say({ image, phase: 'pulling' });
  try {
    const stream = await docker.pull(image);
    await consumeProgress(`pull of ${image}`, stream);
    say({ image, phase: 'pulled' });
    return true;
  } catch (err) {
    say({ image, phase: 'progress', detail: `cannot pull (${errorMessage(err).split('\n')[0]}); building locally` });
    return false;
  }
}

/** The official image or the local stand-in when either is present, else the official one pulled; undefined when a build is needed. */
async function presentOrPulled(docker: Docker, official: string, local: string, say: Progress, force: boolean): Promise<string | undefined> {
  if (force) return undefined;
  for (const image of [official, local]) {
    if (await imageExists(docker, image)) {
      say({ image, phase: 'present' });
      return image;
    }
  }
  return (await tryPull(docker, official, say)) ? official : undefined;
}

export async function ensureBaseImage(docker: Docker, say: Progress = () => {}, force = false, tag = LOCAL_BASE_IMAGE): Promise<string> {
  if (!force && (await imageExists(docker, tag))) {
    say({ image: tag, phase: 'present' });
    await aliasBase(docker, tag);
    return tag;
  }
  say({ image: tag, phase: 'building', detail: 'from busybox-static' });
  const busybox = findBusybox();
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  const tar = pack();
  tar.entry({ name: 'bin', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'bin/busybox', mode: 0o755 }, readFileSync(busybox));
  for (const a of applets) tar.entry({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' });
  for (const d of ['etc', 'root', 'var', 'usr']) tar.entry({ name: d, type: 'directory', mode: 0o755 });
  tar.entry({ name: 'tmp', type: 'directory', mode: 0o1777 });
  tar.entry({ name: 'etc/passwd' }, 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  tar.entry({ name: 'etc/group' }, 'root:x:0:\nnogroup:x:65534:\n');
  tar.finalize();
  const stream = await importRootfs(docker, tar as unknown as Readable, tag, 'CMD ["sh"]');
  await consumeProgress(`import of ${tag}`, stream);
  say({ image: tag, phase: 'built' });
  await aliasBase(docker, tag);
  return tag;
}

/** Offer the base under its usual name too, unless the host already has a real busybox. */
async function aliasBase(docker: Docker, tag: string): Promise<void> {
  if (tag !== LOCAL_BASE_IMAGE || (await imageExists(docker, BASE_ALIAS))) return;
  const [repo, version] = splitTag(BASE_ALIAS);
  await docker.getImage(tag).tag({ repo, tag: version });
}

function findBusybox(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox', '/usr/lib/initramfs-tools/bin/busybox']) {
    if (existsSync(p)) return p;
  }
  throw new BootstrapError(
    LOCAL_BASE_IMAGE,
    'no busybox binary on this machine',
    'Install it: apt-get install -y busybox-static (or make busybox:latest pullable).',
  );
}

export async function ensureRegistryImage(docker: Docker, say: Progress = () => {}, force = false): Promise<string> {
  const available = await presentOrPulled(docker, OFFICIAL_REGISTRY_IMAGE, LOCAL_REGISTRY_IMAGE, say, force);
  if (available) return available;
  const binary = '/usr/bin/docker-registry';
  if (!existsSync(binary)) {
    throw new BootstrapError(
      LOCAL_REGISTRY_IMAGE,
      `${OFFICIAL_REGISTRY_IMAGE} cannot be pulled and ${binary} is missing`,
      'Install Debian\'s registry server: apt-get install -y docker-registry (or make registry:2 pullable).',
    );
  }
  say({ image: LOCAL_REGISTRY_IMAGE, phase: 'building', detail: `from ${binary}` });
  const libs = sharedLibraries(binary);
  const context = await tarOf([
    {
      name: 'Dockerfile',
      content: [
        `FROM ${await ensureBaseImage(docker, say)}`,
        'COPY rootfs/ /',
        'VOLUME /var/lib/registry',
        'EXPOSE 5000',
        'ENTRYPOINT ["/bin/registry"]',
        'CMD ["serve", "/etc/docker/registry/config.yml"]',
      ].join('\n'),
    },
    { name: 'rootfs/bin/registry', content: readFileSync(binary), mode: 0o755 },
    ...libs.map((lib) => ({ name: `rootfs${lib}`, content: readFileSync(lib), mode: 0o755 })),
    { name: 'rootfs/etc/docker/registry/config.yml', content: REGISTRY_CONFIG },
  ]);
  const stream = await docker.buildImage(Readable.from(context) as unknown as NodeJS.ReadableStream, {
    t: LOCAL_REGISTRY_IMAGE,
  });
  await consumeProgress(`build of ${LOCAL_REGISTRY_IMAGE}`, stream, (m) => {
    if (m.stream?.startsWith('Step')) say({ image: LOCAL_REGISTRY_IMAGE, phase: 'progress', detail: m.stream.trim() });
  });
  say({ image: LOCAL_REGISTRY_IMAGE, phase: 'built' });
  return LOCAL_REGISTRY_IMAGE;
}

/** The registry's own configuration: deletes allowed so retention can prune. */
export const REGISTRY_CONFIG = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: :5000
`;

/** The shared libraries a binary loads (by `ldd`), the loader included, to copy it into an image of its own. */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return [...out.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1]!).filter((p, i, all) => all.indexOf(p) === i && existsSync(p));
}

/** Where debootstrap gets Debian's packages unless told otherwise (NESTOR_DEBIAN_MIRROR, config.ts). */
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/**
 * The engine image. Nestor's own is always made (built here when it cannot be pulled): it is
 * the one that carries what the default, rootless engine needs (rootlesskit, slirp4netns,
 * newuidmap and a user to run as), which `docker:dind` lacks.
 */
export async function ensureDindImage(docker: Docker, say: Progress = () => {}, force = false, mirror = DEFAULT_DEBIAN_MIRROR): Promise<string> {
  if (!force && (await imageExists(docker, LOCAL_DIND_IMAGE)) && (await imageExists(docker, LOCAL_CLI_IMAGE))) {
    say({ image: LOCAL_DIND_IMAGE, phase: 'present' });
    return LOCAL_DIND_IMAGE;
  }
  await buildDindWithDebootstrap(docker, say, mirror);
  return LOCAL_DIND_IMAGE;
}

async function buildDindWithDebootstrap(docker: Docker, say: Progress, mirror: string): Promise<void> {
  const image = LOCAL_DIND_IMAGE;
  await withDebootstrapDir(image, 'nestor-dind-', async (dir) => {
    say({ image, phase: 'building', detail: 'debootstrap bookworm with docker.io, docker-compose, git and the rootless engine\'s tools (a minute or two)' });
    await debootstrap(dir, DIND_PACKAGES, mirror, image, say);
    addRootlessUser(dir);
    removeFrom(dir, INSTALL_LEFTOVERS);
    await importDir(docker, dir, image, 'CMD ["dockerd"]', say);
    removeFrom(dir, DOCKER_DAEMON_PARTS);
    await importDir(docker, dir, LOCAL_CLI_IMAGE, 'CMD ["sh"]', say);
  });
}

/**
 * Runs `build` with a fresh temporary folder for a root filesystem, removed afterwards
 * whatever happens; first fails with the fix when debootstrap is missing or cannot run.
 */
export async function withDebootstrapDir(image: string, prefix: string, build: (dir: string) => Promise<void>): Promise<void> {
  if (!existsSync('/usr/sbin/debootstrap')) {
    throw new BootstrapError(image, 'it is built from Debian\'s packages and debootstrap is missing', 'Install it: apt-get install -y debootstrap (as root).');
  }
  if (process.getuid?.() !== 0) {
    throw new BootstrapError(image, 'debootstrap needs root', 'Run `sudo nestor images bootstrap` once.');
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    await build(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A minimal Debian bookworm with `packages` into `dir`, saying which package it is at. */
export async function debootstrap(dir: string, packages: readonly string[], mirror: string, image: string, say: Progress): Promise<void> {
  await runWithProgress(
    'debootstrap',
    ['--variant=minbase', `--include=${packages.join(',')}`, 'bookworm', dir, mirror],
    (line) => {
      const m = /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) (\S+)/.exec(line);
      if (m && (m[1] === 'Retrieving' || m[1] === 'Configuring')) say({ image, phase: 'progress', detail: `${m[1]!.toLowerCase()} ${m[2]}` });
    },
    image,
  );
}

/**
 * What only installing needed (the downloaded packages, apt's lists, docs, translations): an
 * image is copied into every engine that runs it, so each megabyte left costs every job.
 */
export const INSTALL_LEFTOVERS = ['var/cache/apt/archives/*.deb', 'var/lib/apt/lists/*', 'usr/share/doc/*', 'usr/share/man/*', 'usr/share/locale/*', 'usr/share/info/*'];

/**
 * The Docker daemon and what only it runs (containerd, runc, the port proxy, the rootless
 * engine's tools): removed where only the docker and docker-compose clients are wanted, as in
 * the stand-in for `docker:*-cli` images, so that nothing in such an image starts an engine.
 */
export const DOCKER_DAEMON_PARTS = ['usr/sbin/dockerd', 'usr/bin/containerd*', 'usr/sbin/runc', 'usr/bin/runc', 'usr/sbin/docker-proxy', 'usr/bin/docker-proxy', 'usr/bin/rootlesskit*', 'usr/bin/slirp4netns', 'usr/libexec/docker'];

/** Imports a root filesystem folder as `image`, with Dockerfile-style `changes` (importRootfs). */
export async function importDir(docker: Docker, dir: string, image: string, changes: string | readonly string[], say: Progress): Promise<void> {
  say({ image, phase: 'progress', detail: 'importing the root filesystem' });
  const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await consumeProgress(`import of ${image}`, await importRootfs(docker, tar.stdout, image, changes));
  say({ image, phase: 'built' });
}

/** Removes paths (shell globs, relative to `root`) from a root filesystem being built. */
export function removeFrom(root: string, globs: readonly string[]): void {
  execFileSync('sh', ['-c', `cd "$1" && shift && rm -rf -- $*`, 'sh', root, ...globs]);
}

/**
 * What the engine image holds: the Docker daemon and clients, and for the rootless engine
 * rootlesskit (user, mount and network namespaces), slirp4netns (the namespace's network),
 * newuidmap (uidmap) and ip (iproute2), which rootlesskit calls to make its tap device.
 */
const DIND_PACKAGES = ['docker.io', 'docker-compose', 'iptables', 'ca-certificates', 'procps', 'git', 'rootlesskit', 'slirp4netns', 'uidmap', 'iproute2'];

/** The ordinary user the rootless engine runs as, with the id range its user namespace maps. */
function addRootlessUser(root: string): void {
  const u = ROOTLESS_USER;
  appendFileSync(join(root, 'etc/passwd'), `${u.name}:x:${u.uid}:${u.uid}:Nestor rootless engine:/home/${u.name}:/bin/sh\n`);
  appendFileSync(join(root, 'etc/group'), `${u.name}:x:${u.uid}:\n`);
  for (const f of ['etc/subuid', 'etc/subgid']) writeFileSync(join(root, f), `${u.name}:${u.subuidStart}:${u.subuidCount}\n`);
  mkdirSync(join(root, `home/${u.name}/.local/share/docker`), { recursive: true });
  execFileSync('chown', ['-R', `${u.uid}:${u.uid}`, join(root, `home/${u.name}`)]);
}

export function runWithProgress(cmd: string, args: string[], onLine: (l: string) => void, image: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const feed = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        onLine(line);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new BootstrapError(
              image,
              `${cmd} exited with ${code}:\n${tail.join('\n')}`,
              'Check that Debian\'s mirror is reachable (NESTOR_DEBIAN_MIRROR sets another) and that there is 1 GB free in the temp folder.',
            ),
          ),
    );
  });
}

/**
 * `docker import` of a root filesystem tar: a one-layer image with Dockerfile-style `changes`
 * (`CMD [...]`, `ENV K=V`, one instruction each). An imported image has no PATH of its own,
 * so the usual one is added unless a change sets it.
 */
export async function importRootfs(docker: Docker, rootfs: NodeJS.ReadableStream | Readable, tag: string, changes: string | readonly string[]): Promise<NodeJS.ReadableStream> {
  const [repo, version] = splitTag(tag);
  const stream: unknown = await docker.importImage(rootfs as NodeJS.ReadableStream, {
    repo,
    tag: version,
    changes: withDefaultPath(typeof changes === 'string' ? [changes] : changes),
  } as never);
  return stream as NodeJS.ReadableStream;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function withDefaultPath(changes: readonly string[]): string[] {
  const setsPath = changes.some((c) => /^ENV\s+PATH[=\s]/i.test(c.trim()));
  return setsPath ? [...changes] : [...changes, `ENV PATH=${DEFAULT_PATH}`];
}
