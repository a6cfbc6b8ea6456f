import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { NESTOR, ownProcess } from '../helpers.ts';
import { ADMIN, api, tempDir } from './harness.ts';
import { freePort, startRunnerProcess, startServerProcess, waitForJob } from './processes.ts';
import { TestRepo } from './repo-fixture.ts';

const run = promisify(execFile);

/** The CLI with this standard input, to its end; never rejects. */
function shell(env: NodeJS.ProcessEnv, args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NESTOR, ['jobs', 'shell', ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    ownProcess(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdin.end(input);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const PIPELINE = `steps:
  - name: build
    image: busybox:latest
    commands:
      - echo made > /tmp/left-by-build
      - echo "greeting=$GREETING"
      - echo "server at $NESTOR_SERVER_URL says $(wget -q -O- "$NESTOR_SERVER_URL/health")"
      - echo "waiting for a shell"
      - while [ ! -f /tmp/release ]; do sleep 0.2; done
      - echo released
  - name: check
    image: busybox:latest
    commands:
      - echo "it broke here" > /tmp/why
      - exit 3
`;

/**
 * `nestor jobs shell` on real parts (and a job reaching a server whose address is loopback): a server and a runner process, a repository's manual run
 * on a real nested engine. A shell goes into the running step (piped and on a terminal, with its
 * variables, its files and its exit code), is refused to a reader, and a failed step of a run
 * with --hold-on-failure is kept, with what it left outside the workspace, until the shell in it
 * exits; then the job ends at once, and a shell into it is refused as not running.
 */
test('a shell into a running step and into a failed step held for it, for writers only', { timeout: 240_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  let runner: Awaited<ReturnType<typeof startRunnerProcess>> | undefined;
  const env = { NESTOR_SERVER: url, NESTOR_TOKEN: ADMIN };
  const cli = (...args: string[]) => run(NESTOR, args, { env: { ...process.env, ...env } });
  try {
    runner = await startRunnerProcess(url, 'shell-runner', { NESTOR_REPO_CACHE: tempDir('nestor-mirrors-') });
    const repo = new TestRepo();
    repo.commit({ '.nestor.yml': PIPELINE }, 'Shell me');
    await cli('repos', 'add', repo.url, '--json');
    const started = JSON.parse((await cli('pipelines', 'run', 'team/app', '--var', 'GREETING=hello', '--hold-on-failure', '2m', '--json')).stdout) as { id: string; number: number };
    const pipeline = await waitForJob(url, started.id, 120_000, (p) => (p.jobs as { status: string }[] | undefined)?.[0]?.status === 'running');
    const jobId = (pipeline.jobs as { id: string }[])[0]!.id;
    const logOf = async () => (await api<{ lines: { text: string }[] }>(url, 'GET', `/api/jobs/${jobId}/logs`)).body.lines.map((l) => l.text);
    for (let i = 0; i < 600 && !(await logOf()).includes('waiting for a shell'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await logOf()).includes('greeting=hello'), `a manual run's variables reach its steps:\n${(await logOf()).join('\n')}`);
    // The server listens on loopback only (as nestor up's does): the job reaches it through its runner's gateway.
    const said = (await logOf()).find((l) => l.startsWith('server at '));
    assert.match(String(said), /^server at http:\/\/(?!127\.)[\d.]+:\d+ says \{"status":"ok"/, `a job reaches a server at a loopback address:\n${(await logOf()).join('\n')}`);

    // A reader may watch the job, not shell into it.
    await api(url, 'PUT', '/api/repos/team%2Fapp/members', { user: 'rita', role: 'read' });
    const rita = (await api<{ token: string }>(url, 'POST', '/api/tokens', { name: 'rita' })).body.token;
    const refused = await shell({ ...env, NESTOR_TOKEN: rita }, [jobId, 'build', '-c', 'true']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /may not .*write role|NESTOR_FORBIDDEN/s, refused.stderr);

    // Piped: standard input is the script, its output comes back, its exit code is the CLI's.
    const piped = await shell(env, [jobId, 'build'], 'cat /tmp/left-by-build\necho "in=$GREETING at $(pwd)"\nexit 7\n');
    assert.equal(piped.code, 7, `${piped.stdout}\n${piped.stderr}`);
    assert.match(piped.stdout, /^made$/m, 'the shell is in the step\'s own container');
    assert.match(piped.stdout, /^in=hello at \//m, 'with the step\'s variables');

    // On a terminal (a pty made by script(1)): a tty of the given size.
    const onTty = await run('script', ['-qec', `${NESTOR} jobs shell ${jobId} build -c 'tty; stty size; touch /tmp/release'`, '/dev/null'], { env: { ...process.env, ...env, COLUMNS: '100', LINES: '30' } });
    assert.match(onTty.stdout, /\/dev\/pts\/\d+/, `the shell has a terminal:\n${onTty.stdout}`);

    // The build step ends, check fails and is held, with what it left outside the workspace.
    for (let i = 0; i < 600 && !(await logOf()).some((l) => /step check failed; it is kept 2 min for a shell/.test(l)); i++) await new Promise((r) => setTimeout(r, 100));
    const logs = (await logOf()).join('\n');
    assert.match(logs, /released/);
    assert.match(logs, new RegExp(`nestor jobs shell ${jobId} check`), `the log says how to get in:\n${logs}`);
    assert.equal((await api<{ status: string }>(url, 'GET', `/api/jobs/${jobId}`)).body.status, 'running', 'a held step keeps its job running');
    const held = await shell(env, [jobId], 'cat /tmp/why\nexit 0\n');
    assert.equal(held.code, 0, held.stderr);
    assert.match(held.stdout, /it broke here/, 'the failed step\'s files are there');
    const leftAt = Date.now();
    const done = await waitForJob(url, jobId, 30_000);
    assert.equal(done.status, 'failed');
    assert.ok(Date.now() - leftAt < 15_000, 'the job goes on once the last shell in its held step exits, not when the hold runs out');

    const late = await shell(env, [jobId]);
    assert.notEqual(late.code, 0);
    assert.match(late.stderr, /is failed: a shell goes into a running job/);
    assert.match(late.stderr, /--hold-on-failure/);
    const audit = await api<{ entries: { action: string; actor: string }[] }>(url, 'GET', '/api/audit?limit=100');
    assert.ok(audit.body.entries.some((e) => e.action === 'SHELL /api/jobs/:id/shell' && e.actor === 'admin'), 'each shell is in the audit log');
  } finally {
    await runner?.stop();
    await server.stop();
  }
});
