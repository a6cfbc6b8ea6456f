import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { NestorError } from '../../errors.ts';
import { action } from '../action.ts';
import type { Output } from '../output.ts';
import { call, withServer, type ServerFlags } from '../server-call.ts';

type Secret = { name: string; scope: 'server' | { repo: string }; events: string[]; branches: string[]; allow_forks: boolean; updated_at: string; updated_by: string };

interface SecretFlags extends ServerFlags {
  repo?: string;
  value?: string;
  fromFile?: string;
  event: string[];
  branch: string[];
  allowForks?: boolean;
}

const collect = (v: string, all: string[]) => [...all, v];
const base = (repo: string | undefined) => (repo ? `/api/repos/${encodeURIComponent(repo)}/secrets` : '/api/secrets');

/** A value from the flag, a file, or standard input (so it is in no shell history). */
function valueOf(flags: SecretFlags): string {
  if (flags.value !== undefined && flags.fromFile !== undefined) throw new NestorError('NESTOR_USAGE', 'Both --value and --from-file were given', 'Give the value one way.');
  if (flags.value !== undefined) return flags.value;
  if (flags.fromFile !== undefined) return readFileSync(flags.fromFile, 'utf8');
  if (process.stdin.isTTY) throw new NestorError('NESTOR_USAGE', 'No value: give --value, --from-file FILE, or pipe it in', 'echo -n "$TOKEN" | nestor secrets set NAME --repo OWNER/NAME keeps it out of the shell history.');
  return readFileSync(0, 'utf8').replace(/\r?\n$/, '');
}

/** nestor secrets set|list|rm: a repository's secrets, or the server's (--repo left out; the admin's). */
export function registerSecretsCommands(program: Command): void {
  const secrets = program.command('secrets').description('secrets given to repositories\' jobs: write-only, sealed on the server, masked in logs');
  withServer(secrets.command('set').argument('<name>', 'as the files name it (from_secret, secrets.NAME, $NAME in GitLab)'))
    .option('--repo <owner/name>', 'the repository (left out: the server\'s, for every repository; admin only)')
    .option('--value <value>', 'the value (or --from-file, or standard input)')
    .option('--from-file <file>', 'read the value from a file')
    .option('--event <event>', 'only for this event: push, tag, pull_request, cron, manual (repeatable)', collect, [])
    .option('--branch <glob>', 'only for these branches, e.g. main or release/* (repeatable; a GitLab protected variable)', collect, [])
    .option('--allow-forks', 'also give it to pull requests from forks, whose code can read it')
    .description('set a secret, or replace its value and limits')
    .action(action(async (out: Output, name: string, flags: SecretFlags) => {
      const s = await call<Secret>(flags, 'PUT', `${base(flags.repo)}/${encodeURIComponent(name)}`, { value: valueOf(flags), events: flags.event, branches: flags.branch, allow_forks: Boolean(flags.allowForks) });
      out.result(s);
      out.line(`${out.mark(true)} secret ${s.name} set for ${flags.repo ?? 'every repository'}${describe(s)}`);
    }));
  withServer(secrets.command('list'))
    .option('--repo <owner/name>', 'the repository (left out: the server\'s)')
    .description('the secrets\' names and limits (never their values)')
    .action(action(async (out: Output, flags: SecretFlags) => {
      const { secrets: list } = await call<{ secrets: Secret[] }>(flags, 'GET', base(flags.repo));
      out.result(list);
      if (!list.length) out.line(`no secrets; set one with \`nestor secrets set NAME${flags.repo ? ` --repo ${flags.repo}` : ''}\``);
      for (const s of list) out.line(`${s.name.padEnd(28)}${describe(s).trim() || 'every event and branch'}${out.dim(`  set ${s.updated_at} by ${s.updated_by}`)}`);
    }));
  withServer(secrets.command('rm').argument('<name>', 'the secret'))
    .option('--repo <owner/name>', 'the repository (left out: the server\'s)')
    .description('remove a secret')
    .action(action(async (out: Output, name: string, flags: SecretFlags) => {
      await call(flags, 'DELETE', `${base(flags.repo)}/${encodeURIComponent(name)}`);
      out.result({ removed: name });
      out.line(`${out.mark(true)} secret ${name} removed`);
    }));
}

function describe(s: Secret): string {
  const parts = [s.events.length ? `events ${s.events.join(', ')}` : '', s.branches.length ? `branches ${s.branches.join(', ')}` : '', s.allow_forks ? 'forks too' : ''].filter(Boolean);
  return parts.length ? ` (${parts.join('; ')})` : '';
}
