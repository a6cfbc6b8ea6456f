import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gateEntrypoint, newGateToken, releaseText, shellQuote } from './step-gate.ts';

/** Runs the gate with the machine's /bin/sh, as a container's entrypoint would. */
function gate(token: string, input: string | undefined, env: Record<string, string> = {}) {
  const [cmd, ...args] = gateEntrypoint(token);
  const child = spawn(cmd!, args, { env: { PATH: process.env.PATH, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(input);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('a released gate runs the script, then reports its status on both streams', async () => {
  const token = newGateToken();
  const r = await gate(token, releaseText({ token, script: 'echo out; echo err >&2; exit 3' }));
  assert.equal(r.code, 3);
  assert.equal(r.stdout, `out\n\n${token}:3\n`);
  assert.equal(r.stderr, `err\n\n${token}:3\n`);
});

test('a gate closed without its terminator runs nothing and exits 0', async () => {
  const token = newGateToken();
  const text = releaseText({ token, script: 'echo should-not-run' });
  const r = await gate(token, text.slice(0, text.lastIndexOf(token)));
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '');
});

test('quotes, newlines and dollars in scripts and values reach the step unchanged', async () => {
  const token = newGateToken();
  const value = `it's "quoted" $HOME \`x\`\nsecond line`;
  const script = `printf '%s|' "$V"\nprintf '%s' 'a'"'"'b'`;
  const r = await gate(token, releaseText({ token, script, environment: { V: value } }));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${value}|a'b\n${token}:0\n`);
  assert.equal(shellQuote("a'b"), `'a'\\''b'`);
});

test('a slot gets the step environment and working directory through the gate', async () => {
  const token = newGateToken();
  const dir = join(realpathSync(mkdtempSync(join(tmpdir(), 'nestor-gate-'))), 'made', 'here');
  const r = await gate(token, releaseText({ token, script: 'pwd; echo "$A-$B"', environment: { A: '1', B: 'two words' }, workingDir: dir }), { A: 'image default' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${dir}\n1-two words\n\n${token}:0\n`);
});

test('the gate’s own variables do not leak into the step', async () => {
  const token = newGateToken();
  const r = await gate(token, releaseText({ token, script: 'echo "[${n-unset}][${l-unset}]"' }));
  assert.equal(r.stdout, `[unset][unset]\n\n${token}:0\n`);
});

test('a variable name a shell cannot export is refused', () => {
  assert.throws(() => releaseText({ token: 't', script: 'true', environment: { 'A.B': '1' } }), /cannot be exported/);
});
