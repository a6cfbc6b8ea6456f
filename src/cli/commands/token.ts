import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from '../../config.ts';
import { NestorError } from '../../errors.ts';
import { Store } from '../../server/store/store.ts';
import { action } from '../action.ts';
import type { Output } from '../output.ts';
import { countFlag } from '../count-flag.ts';
import { call, withServer, type ServerFlags } from '../server-call.ts';

interface TokenFlags {
  dataDir?: string;
  databaseUrl?: string;
  kind: 'admin' | 'user';
  name?: string;
  json?: boolean;
}

/**
 * `nestor token create`: a new token written straight into the store, for whoever can read the
 * server's data directory (or its database). Tokens are kept as hashes only, so a lost admin
 * token cannot be shown again; this is how an operator gets a new one without the API.
 */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens: minted with local access to the server\'s store (create), or your personal ones through the API');
  registerApiTokenCommands(program, token);
  token
    .command('create')
    .description('mint a new token (admin by default) and print it once')
    .addOption(new Option('--data-dir <dir>', 'the server\'s data directory (default ~/.nestor)').env('NESTOR_DATA_DIR'))
    .addOption(new Option('--database-url <url>', 'the server\'s PostgreSQL, when it uses one').env('NESTOR_DATABASE_URL'))
    .addOption(new Option('--kind <kind>', 'what the token may do').choices(['admin', 'user']).default('admin'))
    .option('--name <name>', 'who the token is for (default: the kind)')
    .option('--json', 'print {"kind","name","token"}')
    .action(action(async (out: Output, flags: TokenFlags) => {
      const file = join(dataDir(process.env, flags.dataDir), 'nestor.db');
      if (!flags.databaseUrl && !existsSync(file)) {
        throw new NestorError('NESTOR_STORE_NOT_FOUND', `No Nestor store at ${file}`, 'Pass the --data-dir the server runs with (or --database-url for PostgreSQL); `nestor up` and `nestor server` create the store at their first start.');
      }
      const store = await Store.open(flags.databaseUrl ? { databaseUrl: flags.databaseUrl } : { file });
      try {
        const name = flags.name ?? flags.kind;
        const value = await store.addToken(flags.kind, name);
        if (out.json) out.result({ kind: flags.kind, name, token: value });
        else {
          out.line(value);
          out.progress(`${flags.kind} token for ${name} (shown once); use it with: export ${flags.kind === 'admin' ? 'NESTOR_ADMIN_TOKEN' : 'NESTOR_TOKEN'}=${value}`);
        }
      } finally {
        await store.close();
      }
    }));
}

/** The API's side of tokens: personal ones (`nestor token personal|list|revoke`) and the audit log. */
export function registerApiTokenCommands(program: Command, token: Command): void {
  withServer(token.command('personal'))
    .option('--label <text>', 'what it is for (shown in `nestor token list`)')
    .option('--expires <days>', 'days until it stops working (at most 366)', '90')
    .addOption(new Option('--scope <scope>', 'read: GETs only; write: all you may do').choices(['read', 'write']).default('write'))
    .description('make a personal API token for yourself (with your token)')
    .action(action(async (out: Output, flags: ServerFlags & { label?: string; expires: string; scope: string }) => {
      const t = await call<{ token: string; expires_at: string; scope: string }>(flags, 'POST', '/api/me/tokens', { ...(flags.label ? { label: flags.label } : {}), expires_in_days: countFlag(flags.expires, 90, '--expires'), scope: flags.scope });
      out.result(t);
      out.line(t.token);
      out.progress(`${t.scope} token, expires ${t.expires_at} (shown once)`);
    }));
  withServer(token.command('list')).description('your tokens (never their values)').action(action(async (out: Output, flags: ServerFlags) => {
    const { tokens } = await call<{ tokens: { id: string; label: string | null; scope: string; created_at: string; expires_at: string | null }[] }>(flags, 'GET', '/api/me/tokens');
    out.result(tokens);
    for (const t of tokens) out.line(`${t.id}  ${t.scope.padEnd(5)} ${(t.label ?? '').padEnd(20)} ${out.dim(`made ${t.created_at}, ${t.expires_at ? `expires ${t.expires_at}` : 'never expires'}`)}`);
  }));
  withServer(token.command('revoke').argument('<id>', 'the token\'s id (nestor token list)')).description('revoke one of your tokens at once').action(action(async (out: Output, id: string, flags: ServerFlags) => {
    await call(flags, 'DELETE', `/api/me/tokens/${encodeURIComponent(id)}`);
    out.result({ revoked: id });
    out.line(`${out.mark(true)} token ${id} revoked`);
  }));
  withServer(program.command('audit'))
    .option('--actor <user>', 'only this user\'s calls')
    .option('--limit <n>', 'how many', '50')
    .description('the audit log: every state-changing call, newest first (admin token)')
    .action(action(async (out: Output, flags: ServerFlags & { actor?: string; limit: string }) => {
      const q = new URLSearchParams({ limit: String(countFlag(flags.limit, 50, '--limit')), ...(flags.actor ? { actor: flags.actor } : {}) });
      const { entries } = await call<{ entries: { at: string; actor: string; action: string; target: Record<string, string>; status: number }[] }>(flags, 'GET', `/api/audit?${q}`);
      out.result(entries);
      for (const e of entries) out.line(`${out.dim(e.at.replace('T', ' ').slice(0, 19))} ${e.actor.padEnd(16)} ${String(e.status).padEnd(4)} ${e.action} ${Object.values(e.target).join(' ')}`);
    }));
}
