import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { NESTOR, nestor } from './helpers.ts';
import { tempDir } from './server/harness.ts';
import { freePort } from './server/processes.ts';

const sh = promisify(execFile);

/** `nestor up` on `dir` until its demo has finished; answers what it printed, then stops it. */
async function upUntilDemo(port: number, dir: string, env: NodeJS.ProcessEnv = {}): Promise<{ output: string; stop: () => Promise<void> }> {
  const child = spawn(NESTOR, ['up', '--port', String(port), '--data-dir', dir], { env: { ...process.env, NESTOR_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b));
  child.stderr.on('data', (b: Buffer) => (output += b));
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 120_000;
  while (!/demo job (succeeded|failed|cancelled)/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the demo did not finish:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    output,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const followLine = (output: string) => {
  const lines = output.split('\n');
  return lines[lines.findIndex((l) => l.includes('follow it with:')) + 1]!.trim();
};

test('nestor up prints a curl line that works when pasted; a later start says how to mint a token, and that token works', { timeout: 240_000 }, async () => {
  const dir = tempDir();
  const port = await freePort();

  const first = await upUntilDemo(port, dir);
  try {
    assert.match(first.output, /admin token \(shown once, store it now\): nst_adm_/);
    assert.match(first.output, /demo job succeeded/);
    const line = followLine(first.output);
    assert.match(line, /^curl -N -H "Authorization: Bearer nst_adm_[\w-]+" /, 'the header is in double quotes');
    // Pasted into a shell as printed: the stream replays the demo's lines and ends.
    const { stdout } = await sh('sh', ['-c', `${line} --max-time 20`]);
    assert.match(stdout, /built inside job engine/);
    assert.match(stdout, /event: end\ndata: \{"status":"succeeded"/);
  } finally {
    await first.stop();
  }

  const second = await upUntilDemo(port, dir);
  let minted: string;
  try {
    assert.doesNotMatch(second.output, /admin token \(shown once/, 'a token is shown at the first start only');
    assert.match(second.output, new RegExp(`mint another with: nestor token create --data-dir ${dir}`));
    const made = await nestor(['token', 'create', '--data-dir', dir]);
    assert.equal(made.code, 0, made.stderr);
    minted = made.stdout.trim();
    assert.match(minted, /^nst_adm_[\w-]+$/);
    const line = followLine(second.output);
    assert.match(line, /"Authorization: Bearer \$NESTOR_ADMIN_TOKEN"/);
    const { stdout } = await sh('sh', ['-c', `${line} --max-time 20`], { env: { ...process.env, NESTOR_ADMIN_TOKEN: minted } });
    assert.match(stdout, /event: end\ndata: \{"status":"succeeded"/, 'the minted token is accepted by the running server');
  } finally {
    await second.stop();
  }
});

test('nestor token create refuses a data directory with no store, saying which flag to use', async () => {
  const r = await nestor(['token', 'create', '--data-dir', tempDir()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /No Nestor store at .*nestor\.db/);
  assert.match(r.stderr, /--data-dir/);
});
