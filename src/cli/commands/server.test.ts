import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerServerCommands } from './server.ts';
import { urlHost } from '../../server/server.ts';

test('`up` listens on loopback unless told otherwise; `server`, which serves remote runners, on every address', () => {
  const program = new Command();
  registerServerCommands(program);
  const host = (name: string) => program.commands.find((c) => c.name() === name)!.options.find((o) => o.long === '--host')!;
  assert.equal(host('up').defaultValue, '127.0.0.1');
  assert.equal(host('server').defaultValue, '0.0.0.0');
  for (const name of ['up', 'server']) assert.equal(host(name).envVar, 'NESTOR_HOST');
  assert.match(host('up').description, /this machine only/);
});

test('the server reaches itself over loopback when it listens on every address', () => {
  assert.equal(urlHost('0.0.0.0'), '127.0.0.1');
  assert.equal(urlHost('::'), '127.0.0.1');
  assert.equal(urlHost('10.0.0.5'), '10.0.0.5');
  assert.equal(urlHost('::1'), '[::1]');
});
