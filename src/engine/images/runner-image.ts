import type Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// bootstrap.ts imports this file back (bootstrapImages makes the runner image too): what
// comes from it is used inside functions only, never while the modules are being loaded.
import {
  DEFAULT_DEBIAN_MIRROR,
  DEFAULT_PATH,
  DOCKER_DAEMON_PARTS,
  INSTALL_LEFTOVERS,
  debootstrap,
  importDir,
  removeFrom,
  withDebootstrapDir,
  type Progress,
} from './bootstrap.ts';
import { LOCAL_RUNNER_IMAGE, RUNNER_USER } from './image-names.ts';
import { imageExists } from './local-images.ts';

/**
 * What GitHub workflows most assume of a hosted runner and use without installing: a shell,
 * git, downloaders, the docker clients (for the job's own engine), Python with venv and pip,
 * jq, make, sudo and the usual archivers. docker.io brings the daemon too; it is removed.
 */
const RUNNER_PACKAGES = [
  'bash', 'ca-certificates', 'curl', 'wget', 'git', 'openssh-client', 'docker.io', 'docker-compose',
  'python3', 'python3-venv', 'python3-pip', 'jq', 'make', 'sudo', 'xz-utils', 'unzip', 'zip', 'zstd',
  'gnupg', 'procps', 'file', 'lsb-release', 'tar', 'gzip',
];

/**
 * Folders GitHub's runner mounts into a job container, made ahead so that a job runs the same
 * when nothing is mounted there. Writable by everyone: a step may run as root, as runner or
 * as a user of its own; the work tree is sticky, as /tmp is, since jobs share it.
 */
const JOB_DIRS: readonly (readonly [string, number])[] = [
  ['github/home', 0o777],
  ['github/workflow', 0o777],
  ['github/runner_temp', 0o777],
  ['__w', 0o1777],
];

/**
 * The image GitHub-style `runs-on` jobs run in (LOCAL_RUNNER_IMAGE), built here from Debian's
 * packages: Docker Hub's runner images are unreachable where Nestor most needs its own. An
 * image already present is left alone unless `force`.
 */
export async function ensureRunnerImage(docker: Docker, say: Progress = () => {}, force = false, mirror = DEFAULT_DEBIAN_MIRROR): Promise<string> {
  const image = LOCAL_RUNNER_IMAGE;
  if (!force && (await imageExists(docker, image))) {
    say({ image, phase: 'present' });
    return image;
  }
  await withDebootstrapDir(image, 'nestor-runner-', async (dir) => {
    say({ image, phase: 'building', detail: 'debootstrap bookworm with bash, git, curl, the docker clients, python3, jq, make and sudo (a minute or two)' });
    await debootstrap(dir, RUNNER_PACKAGES, mirror, image, say);
    // A job talks to the engine Nestor gives it; a daemon of its own could not start there.
    removeFrom(dir, DOCKER_DAEMON_PARTS);
    addRunnerUser(dir);
    makeJobDirs(dir);
    removeFrom(dir, INSTALL_LEFTOVERS);
    await importDir(docker, dir, image, runnerImageChanges(), say);
  });
  return image;
}

/** The image's command and environment, as `docker import --change` takes them. */
export function runnerImageChanges(): string[] {
  return [
    'CMD ["bash"]',
    // What actions read to tell the runner's system (GitHub's images set it to ubuntu22 and so on).
    'ENV ImageOS=debian12',
    // apt-get install in a step must not stop to ask.
    'ENV DEBIAN_FRONTEND=noninteractive',
    // The locale built into glibc: tools that print UTF-8 (python, git) do so without locales installed.
    'ENV LANG=C.UTF-8',
    `ENV PATH=${DEFAULT_PATH}`,
  ];
}

/** The runner user, with its group, home and passwordless sudo, as steps written for GitHub's runners expect. */
function addRunnerUser(root: string): void {
  const { name, uid } = RUNNER_USER;
  // The image's own groupadd and useradd: they fill in shadow, gshadow and the home from /etc/skel.
  execFileSync('chroot', [root, 'groupadd', '--gid', String(uid), name]);
  execFileSync('chroot', [root, 'useradd', '--uid', String(uid), '--gid', String(uid), '--create-home', '--home-dir', `/home/${name}`, '--shell', '/bin/bash', name]);
  const sudoers = join(root, 'etc/sudoers.d', name);
  writeFileSync(sudoers, `${name} ALL=(ALL) NOPASSWD:ALL\n`);
  // sudo refuses a sudoers file others may write to; 0440 is the mode visudo gives.
  chmodSync(sudoers, 0o440);
}

function makeJobDirs(root: string): void {
  for (const [dir, mode] of JOB_DIRS) {
    mkdirSync(join(root, dir), { recursive: true });
    // mkdir's mode goes through the umask: the exact one is set afterwards.
    chmodSync(join(root, dir), mode);
  }
}
