import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineNames, hostEngine, nestor, NESTOR, objectsOf, ROOT } from '../helpers.ts';

const host = await hostEngine();

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-run-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

async function jsonRun(dir: string, args: string[] = []) {
  const r = await nestor(['run', '--json', '-C', dir, ...args]);
  const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { ...r, events, logs: events.filter((e) => e.type === 'log') as { source: string; stream: string; text: string; time: string }[] };
}

const engines = async () => (await engineNames(host)).length;

test('stdout and stderr are kept apart, each in order, each line timestamped', async () => {
  // Docker copies the two pipes independently, so order is kept within each stream.
  const dir = project({ '.nestor.yml': 'steps:\n  s:\n    run: for i in 1 2 3; do echo out$i; echo err$i >&2; done\n' });
  const r = await jsonRun(dir);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.logs.filter((l) => l.source === 's' && !l.text.startsWith('+ '));
  assert.deepEqual(lines.filter((l) => l.stream === 'stdout').map((l) => l.text), ['out1', 'out2', 'out3']);
  assert.deepEqual(lines.filter((l) => l.stream === 'stderr').map((l) => l.text), ['err1', 'err2', 'err3']);
  for (const l of lines) assert.ok(!Number.isNaN(Date.parse(l.time)));
});

test('the source directory is the workspace, and a failing step fails the run with exit 1', async () => {
  const dir = project({ '.nestor.yml': 'steps:\n  check:\n    run: cat input.txt && exit 4\n', 'input.txt': 'from the source\n' });
  const r = await jsonRun(dir);
  assert.equal(r.code, 1);
  assert.ok(r.logs.some((l) => l.text === 'from the source'));
  const result = r.events.find((e) => e.type === 'result') as { jobs: { steps: { status: string; exitCode: number }[] }[] };
  assert.deepEqual([result.jobs[0]!.steps[0]!.status, result.jobs[0]!.steps[0]!.exitCode], ['failure', 4]);
});

test('--step runs one step and what it depends on; --env overrides the file', async () => {
  const dir = project({ '.nestor.yml': 'environment: {WHO: file}\nsteps:\n  a: {run: echo a}\n  b: {run: echo "b $WHO"}\n  c: {run: echo c}\n' });
  const r = await jsonRun(dir, ['--step', 'b', '--env', 'WHO=flag']);
  assert.equal(r.code, 0, r.stderr);
  const texts = r.logs.map((l) => l.text).filter((t) => !t.startsWith('+ '));
  assert.deepEqual(texts, ['a', 'b flag']);
});

test('an invalid file stops before any engine starts, with file:line:column and exit 2', async () => {
  const dir = project({ '.nestor.yml': 'steps:\n  a:\n    image: busybox\n    run: "true"\n    timeout: soon\n' });
  const r = await nestor(['run', '-C', dir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\.nestor\.yml:5:\d+: .*duration/);
});

test('an image nobody has is reported by name with what to do', async () => {
  const dir = project({ '.nestor.yml': 'steps:\n  a:\n    image: nestor-test/does-not-exist:1\n    run: "true"\n' });
  const r = await jsonRun(dir);
  assert.equal(r.code, 1);
  const result = r.events.find((e) => e.type === 'result') as { jobs: { error?: string; engine: string }[] };
  assert.match(result.jobs[0]!.error ?? '', /Image nestor-test\/does-not-exist:1 cannot be found/);
  assert.equal(await objectsOf(host, result.jobs[0]!.engine), 0, 'its engine is gone');
});

test('a step printing 100 MB is streamed, not held in memory', async () => {
  const dir = project({ '.nestor.yml': 'steps:\n  loud:\n    run: "head -c 100000000 /dev/zero | tr \'\\\\0\' x | fold -w 1000"\n' });
  // With the heap capped well under the output's size, holding it would end in an out-of-memory crash.
  const child = spawn(NESTOR, ['run', '-C', dir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=96' } });
  let bytes = 0;
  let peakKb = 0;
  child.stdout.on('data', (b: Buffer) => (bytes += b.length));
  child.stderr.resume();
  const sampler = setInterval(() => {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    if (m) peakKb = Math.max(peakKb, Number(m[1]));
  }, 50);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  clearInterval(sampler);
  assert.equal(code, 0);
  assert.ok(bytes > 100_000_000, `all lines arrived (${bytes} bytes)`);
  // The process idles near 150 MB; holding the output would add its 100 MB (as strings, twice that).
  assert.ok(peakKb < 300 * 1024, `peak RSS ${Math.round(peakKb / 1024)} MB`);
});

test('Ctrl-C removes every container and the engine within 5 s', async (t) => {
  const child = spawn(NESTOR, ['run', '-C', `${ROOT}examples/cancel`], { stdio: ['ignore', 'pipe', 'pipe'] });
  // This run's own engines (other processes may have theirs), and never a run left behind.
  t.after(() => void child.kill('SIGKILL'));
  const mine = async () => (await host.docker.listContainers({ all: true, filters: JSON.stringify({ label: ['dev.nestor.role=engine', `dev.nestor.owner.pid=${child.pid}`] }) })).length;
  const before = 0;
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.resume();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the job never started:\n${out}`)), 60_000);
    child.stdout.on('data', () => {
      if (out.includes('long | started')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  assert.equal(await mine(), before + 1, 'the job runs in its engine');
  const t0 = performance.now();
  child.kill('SIGINT');
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  const elapsed = performance.now() - t0;
  assert.equal(code, 130);
  assert.ok(elapsed < 5000, `stopped in ${Math.round(elapsed)} ms`);
  assert.equal(await mine(), before, 'no engine left');
  const jobObjects = await host.docker.listContainers({ all: true, filters: JSON.stringify({ label: ['dev.nestor.job'] }) });
  assert.equal(jobObjects.length, 0);
  assert.match(out, /long\s+cancelled/);
});

test('GitLab: a service is awaited on the ports its image exposes, then reached by its alias', async () => {
  const { Readable } = await import('node:stream');
  const { tarOf } = await import('../../src/engine/archive.ts');
  const { consumeProgress } = await import('../../src/engine/json-stream.ts');
  const { nestorLabels } = await import('../../src/engine/labels.ts');
  const tag = `nestor-test/slow-web-${process.pid}:1`;
  // Listens only after 2 s: a runner that did not wait for the port would fail the step.
  const context = await tarOf([{ name: 'Dockerfile', content: 'FROM busybox:latest\nEXPOSE 8080\nCMD ["sh", "-c", "sleep 2; mkdir -p /w; echo up > /w/i; httpd -f -p 8080 -h /w"]\n' }]);
  await consumeProgress('build', await host.docker.buildImage(Readable.from(context) as never, { t: tag, labels: nestorLabels('image') }));
  try {
    const dir = project({ '.gitlab-ci.yml': `services:\n  - name: ${tag}\n    alias: web\nprobe:\n  image: busybox:latest\n  script:\n    - wget -q -O - http://web:8080/i\n` });
    const r = await jsonRun(dir);
    assert.equal(r.code, 0, r.stdout);
    assert.ok(r.logs.some((l) => l.source === 'probe' && l.text === 'up'));
  } finally {
    await host.docker.getImage(tag).remove({ force: true });
  }
});

test('--mode socket runs the steps on the host engine itself and leaves nothing of the job behind', async () => {
  const dir = project({ '.nestor.yml': 'steps:\n  a:\n    run: echo "in $NESTOR_WORKSPACE"; cat input.txt\n', 'input.txt': 'copied\n' });
  const r = await jsonRun(dir, ['--mode', 'socket']);
  assert.equal(r.code, 0, r.stdout);
  assert.ok(r.logs.some((l) => l.text === 'copied'));
  const filters = JSON.stringify({ label: ['dev.nestor.job'] });
  const [containers, volumes, networks] = await Promise.all([host.docker.listContainers({ all: true, filters }), host.docker.listVolumes({ filters }), host.docker.listNetworks({ filters })]);
  assert.deepEqual([containers.length, volumes.Volumes?.length ?? 0, networks.length], [0, 0, 0]);
});

test('an image a step pulls that the host lacks is named in a notice, before the registry error it leads to', async () => {
  const dir = project({ '.nestor.yml': 'steps:\n  pull:\n    image: docker:27-cli\n    commands: [docker pull nestor-test/nowhere:1 || true]\n' });
  const r = await jsonRun(dir);
  assert.equal(r.code, 0, r.stderr);
  const notices = r.events.filter((e) => e.type === 'notice').map((e) => String(e.text));
  assert.ok(notices.includes('image nestor-test/nowhere:1: the host engine does not have it, so it is pulled from its registry'), notices.join('\n'));
});

test('a job that fails after a pull went past the image cache says what the cache and the registry answered', async () => {
  const dir = project({ '.nestor.yml': 'steps:\n  pull:\n    image: docker:27-cli\n    commands: [docker pull nestor-test/nowhere:2]\n' });
  const r = await jsonRun(dir);
  assert.equal(r.code, 1, r.stderr);
  const notice = r.events.filter((e) => e.type === 'notice').map((e) => String(e.text)).find((t) => t.startsWith('a pull in the job engine went past the image cache'));
  assert.ok(notice, JSON.stringify(r.events));
  assert.match(notice, /manifest unknown/, 'the image cache\'s own answer, which the client never sees');
});

test("Drone: a step's user is who its container runs as, and a step slot made for another user is not taken", async () => {
  const dir = project({ '.drone.yml': 'kind: pipeline\nname: p\nsteps:\n  - name: as-nobody\n    image: busybox:latest\n    user: 65534\n    commands: [id -u]\n  - name: as-image\n    image: busybox:latest\n    commands: [id -u]\n' });
  const r = await jsonRun(dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(r.logs.some((l) => l.source === 'as-nobody' && l.text === '65534'), r.stdout);
  assert.ok(r.logs.some((l) => l.source === 'as-image' && l.text === '0'));
});

test("GitLab: a docker:dind service with TLS turned off is reached at tcp://docker:2375 by the job's containers", async () => {
  const dir = project({
    '.gitlab-ci.yml': [
      'image: docker:24.0',
      'services: [docker:24.0-dind]',
      'variables:',
      '  DOCKER_HOST: tcp://docker:2375',
      '  DOCKER_TLS_CERTDIR: ""',
      'build:',
      '  script:',
      '    - docker info --format "plain engine {{.Name}}"',
      '    - echo "tls verify is [${DOCKER_TLS_VERIFY:-}]"',
      '    - docker run --rm busybox:latest echo hi through the plain port',
      '',
    ].join('\n'),
  });
  const r = await jsonRun(dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const texts = r.logs.map((l) => l.text);
  assert.ok(texts.some((t) => /^plain engine /.test(t)), texts.join('\n'));
  assert.ok(texts.includes('tls verify is []'), 'no TLS variable is given for a plain engine');
  assert.ok(texts.includes('hi through the plain port'), 'an attached docker run works through it');
  assert.ok(r.stdout.includes('turns TLS off'), 'the notice says what was done');
});

for (const mode of ['auto', 'socket'] as const) {
  test(`--hold-on-failure (${mode}): a failed step opens a shell on the terminal in what it left; its exit lets the run go on, and nothing of it stays`, async () => {
    const dir = project({ '.nestor.yml': 'steps:\n  check:\n    image: busybox:latest\n    commands: ["echo it broke here > /tmp/why", "exit 3"]\n  after:\n    image: busybox:latest\n    when: {status: [failure]}\n    commands: [echo after-ran]\n' });
    // script(1) gives the run a terminal; what is piped into it is typed there.
    const child = spawn('script', ['-qec', `${NESTOR} run --hold-on-failure 2m --mode ${mode} -C ${dir}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stdin.end('cat /tmp/why\nexit 5\n');
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 1, output);
    assert.match(output, /step check failed; it is kept 2 min for a shell/);
    assert.match(output, /shell in the failed step pipeline\/check/);
    assert.match(output, /^it broke here\r?$/m, `the shell is in the step's container as the step left it:\n${output}`);
    assert.match(output, /after-ran/, 'the run went on once the shell exited');
    // Other files' jobs may run on the host's engine meanwhile: what is looked for is what a hold makes.
    const held = JSON.stringify({ label: ['dev.nestor.role=step'], name: ['-held'] });
    assert.deepEqual((await host.docker.listContainers({ all: true, filters: held })).map((c) => c.Names), [], 'the container kept for the shell is gone');
    assert.deepEqual((await host.docker.listImages({ filters: JSON.stringify({ label: ['dev.nestor.role=step'] }) })).map((i) => i.Id), [], 'the image kept for the shell is gone');
  });
}

test('GitLab artifacts untracked: what a job made beside the source reaches the next stage; the source\'s own files come from the source', async () => {
  const dir = project({
    '.gitlab-ci.yml': 'stages: [build, test]\nbuild:\n  stage: build\n  image: busybox:latest\n  script:\n    - mkdir -p out && echo compiled > out/app.o\n    - echo changed >> tracked.txt\n  artifacts:\n    untracked: true\ntest:\n  stage: test\n  image: busybox:latest\n  script:\n    - cat out/app.o\n    - cat tracked.txt\n',
    'tracked.txt': 'original\n',
  });
  const r = await jsonRun(dir);
  assert.equal(r.code, 0, r.stdout);
  const test = r.logs.filter((l) => l.source.startsWith('test')).map((l) => l.text);
  assert.ok(test.includes('compiled'), `the untracked file came over:\n${test.join('\n')}`);
  assert.ok(test.includes('original') && !test.includes('changed'), `a file of the source is not an untracked one:\n${test.join('\n')}`);
});
