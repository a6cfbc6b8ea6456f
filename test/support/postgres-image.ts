import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tarOf, type ArchiveEntry } from '../../src/engine/archive.ts';
import { sharedLibraries } from '../../src/engine/images/bootstrap.ts';
import type { EngineClient } from '../../src/engine/engine-client.ts';
import { consumeProgress } from '../../src/engine/json-stream.ts';
import { nestorLabels } from '../../src/engine/labels.ts';

/**
 * A real PostgreSQL server image for tests, made from the host's own PostgreSQL (Debian's, as
 * scripts/ensure-postgres.sh installs it for the suite): no registry is reachable here, so
 * `postgres:16` cannot be pulled. It reads the official image's variables (POSTGRES_USER,
 * POSTGRES_PASSWORD, POSTGRES_DB), listens on 5432, and holds `psql` for the steps that use it.
 * The caller removes it (`remove`).
 */
export async function buildPostgresImage(host: EngineClient, tag: string): Promise<{ tag: string; remove: () => Promise<void> }> {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort((a, b) => Number(a) - Number(b)).at(-1) : undefined;
  if (!version) throw new Error('PostgreSQL is not installed on this host: run `bash scripts/ensure-postgres.sh` (the test command does)');
  const bin = join(root, version, 'bin');
  const lib = join(root, version, 'lib');
  const binaries = ['postgres', 'initdb', 'psql', 'pg_isready'].map((b) => join(bin, b));
  const modules = readdirSync(lib).filter((f) => f.endsWith('.so') && !f.startsWith('llvmjit')).map((f) => join(lib, f));
  const files = new Set<string>([...binaries, ...modules]);
  for (const f of [...files]) for (const l of sharedLibraries(f)) files.add(l);
  const tree = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? tree(join(dir, f)) : [join(dir, f)]));
  for (const f of [...tree(`/usr/share/postgresql/${version}`), ...tree('/usr/share/zoneinfo/Etc'), '/usr/share/zoneinfo/UTC']) files.add(f);
  const entries: ArchiveEntry[] = [...files].map((f) => ({ name: `rootfs${f}`, content: readFileSync(f), mode: statSync(f).mode & 0o777 }));
  const context = await tarOf([
    {
      name: 'Dockerfile',
      content: [
        'FROM nestor/base:busybox',
        'COPY rootfs/ /',
        'COPY entrypoint.sh /usr/local/bin/postgres-entrypoint',
        'RUN echo "postgres:x:999:999::/var/lib/postgresql:/bin/sh" >> /etc/passwd && echo "postgres:x:999:" >> /etc/group && mkdir -p /var/lib/postgresql/data /tmp && chmod 1777 /tmp && chown -R 999:999 /var/lib/postgresql',
        `ENV PATH=${bin}:/bin:/usr/bin TZ=UTC PGDATA=/var/lib/postgresql/data`,
        'USER 999',
        'EXPOSE 5432',
        'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]',
        'CMD ["postgres"]',
      ].join('\n'),
    },
    { name: 'entrypoint.sh', content: ENTRYPOINT, mode: 0o755 },
    ...entries,
  ]);
  await consumeProgress(`build of ${tag}`, await host.docker.buildImage(Readable.from(context) as never, { t: tag, labels: nestorLabels('image') }));
  return { tag, remove: () => host.docker.getImage(tag).remove({ force: true }).then(() => undefined) };
}

/** The official image's start: a new data directory is made and its database created, then the server runs. */
const ENTRYPOINT = `#!/bin/sh
set -e
if [ "$1" != postgres ]; then exec "$@"; fi
user="\${POSTGRES_USER:-postgres}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  method=trust
  if [ -n "\${POSTGRES_PASSWORD:-}" ]; then printf '%s' "$POSTGRES_PASSWORD" > /tmp/pw; method=scram-sha-256; fi
  initdb -D "$PGDATA" -U "$user" -E UTF8 --locale=C --auth-local=trust --auth-host="$method" \${POSTGRES_PASSWORD:+--pwfile=/tmp/pw} >/dev/null
  rm -f /tmp/pw
  echo "host all all all $method" >> "$PGDATA/pg_hba.conf"
  db="\${POSTGRES_DB:-$user}"
  if [ "$db" != postgres ]; then echo "CREATE DATABASE \\"$db\\"" | postgres --single -D "$PGDATA" -c unix_socket_directories=/tmp postgres >/dev/null; fi
fi
shift
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp "$@"
`;
