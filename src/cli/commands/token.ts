import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from '../../config.ts';
import { NestorError } from '../../errors.ts';
import { Store } from '../../server/store/store.ts';
import { action } from '../action.ts';
import type { Output } from '../output.ts';

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
  const token = program.command('token').description('tokens for the API, made with local access to the server\'s store');
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
