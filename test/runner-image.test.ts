import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RUNNER_IMAGE } from '../src/config.ts';
import { ensureRunnerImage } from '../src/engine/images/runner-image.ts';
import { LOCAL_RUNNER_IMAGE, RUNNER_USER } from '../src/engine/images/image-names.ts';
import { demuxLogBuffer } from '../src/engine/container-logs.ts';
import { nestorLabels } from '../src/engine/labels.ts';
import { hostEngine } from './helpers.ts';

const host = await hostEngine();

/**
 * What a workflow step checks of its runner, one line each, so that the assertions below read
 * the tools' own answers: a tool that is missing fails the script (set -e) and names itself.
 */
const PROBE = [
  'set -euo pipefail',
  // sed -n 1p reads all its input: with head, the writer may die of SIGPIPE, which pipefail reports.
  'bash --version | sed -n 1p',
  'git --version',
  'curl --version | sed -n 1p',
  'docker --version',
  'docker-compose --version',
  "python3 -c 'import venv, sys; print(\"venv\", sys.version.split()[0])'",
  'jq --version',
  'make --version | sed -n 1p',
  'sudo -n true && echo "sudo ok as $(sudo -n id -un)"',
  'echo "uid $(id -u) gid $(id -g) user $(id -un) home $HOME"',
  'echo "ImageOS=${ImageOS:-}"',
  'stat -c "mode %a %n" /github/home /github/workflow /github/runner_temp /__w',
  // None of the daemon's parts may be left: a job talks to the engine Nestor gives it.
  'for b in dockerd containerd runc docker-proxy; do if command -v "$b" >/dev/null; then echo "found $b"; else echo "no $b"; fi; done',
  'test ! -e /usr/libexec/docker && echo "no /usr/libexec/docker"',
].join('\n');

test('the runner image is the one GitHub-style jobs default to', () => {
  assert.equal(LOCAL_RUNNER_IMAGE, DEFAULT_RUNNER_IMAGE);
});

test('the runner image has the tools workflows assume, as user runner with sudo, and no Docker daemon', async () => {
  const image = await ensureRunnerImage(host.docker);
  assert.equal(image, DEFAULT_RUNNER_IMAGE);

  const config = (await host.docker.getImage(image).inspect()).Config;
  assert.deepEqual(config.Cmd, ['bash']);
  for (const env of ['ImageOS=debian12', 'DEBIAN_FRONTEND=noninteractive', 'LANG=C.UTF-8', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']) {
    assert.ok(config.Env.includes(env), `${env} in ${JSON.stringify(config.Env)}`);
  }

  const container = await host.docker.createContainer({
    Image: image,
    Cmd: ['bash', '-c', PROBE],
    User: RUNNER_USER.name,
    Labels: nestorLabels('probe'),
    HostConfig: { Memory: 256 * 1024 * 1024, PidsLimit: 256 },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = demuxLogBuffer(Buffer.from((await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer));
    const out = logs.stdout;
    assert.equal(StatusCode, 0, `the probe failed:\n${logs.combined}`);
    assert.match(out, /^GNU bash, version 5\./m);
    assert.match(out, /^git version 2\./m);
    assert.match(out, /^curl 7\.\d+/m);
    assert.match(out, /^Docker version \d+\./m);
    assert.match(out, /^docker-compose version \d+\./m);
    assert.match(out, /^venv 3\.11\./m);
    assert.match(out, /^jq-1\./m);
    assert.match(out, /^GNU Make 4\./m);
    assert.match(out, /^sudo ok as root$/m);
    assert.match(out, new RegExp(`^uid ${RUNNER_USER.uid} gid ${RUNNER_USER.uid} user runner home /home/runner$`, 'm'));
    assert.match(out, /^ImageOS=debian12$/m);
    for (const dir of ['/github/home', '/github/workflow', '/github/runner_temp']) assert.match(out, new RegExp(`^mode 777 ${dir}$`, 'm'));
    assert.match(out, /^mode 1777 \/__w$/m);
    for (const daemon of ['dockerd', 'containerd', 'runc', 'docker-proxy']) assert.match(out, new RegExp(`^no ${daemon}$`, 'm'));
    assert.match(out, /^no \/usr\/libexec\/docker$/m);
    assert.doesNotMatch(out, /^found /m);
  } finally {
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
});
