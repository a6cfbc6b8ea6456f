import { Command, Option } from 'commander';
import { join } from 'node:path';
import { dataDir, engineImages } from '../../config.ts';
import { NestorError } from '../../errors.ts';
import { cleanupOrphans, removeLabelled } from '../../engine/cleanup.ts';
import { ImageSupply } from '../../engine/images/supply.ts';
import { BASE_ALIAS } from '../../engine/images/image-names.ts';
import { ensureReadOnlyRegistry, REGISTRY_ALIAS, REGISTRY_ALIAS_URL } from '../../engine/images/registry.ts';
import { LABEL_ENGINE, LABEL_ISOLATION, LABEL_MANAGED, LABEL_OPTIONS, LABEL_OWNER, LABEL_PERSISTENT } from '../../engine/labels.ts';
import { attachEngine, findEngineContainer } from '../../engine/nested/attach.ts';
import { ISOLATION_MODES, type IsolationMode } from '../../engine/nested/isolation.ts';
import type { NestedEngine } from '../../engine/nested/nested-engine.ts';
import { provision, type ProvisionOptions } from '../../engine/nested/provision.ts';
import { selfTest } from '../../engine/self-test.ts';
import { action, hostEngine } from '../action.ts';
import type { Output } from '../output.ts';

interface StartFlags {
  isolation: IsolationMode;
  runtime?: string;
  port?: string;
  network?: string;
  memory: string;
  cpus: string;
  storage: 'tmpfs' | 'volume';
  image?: string;
  registryMirror: string[];
  insecureRegistry: string[];
  mtu?: string;
  storageDriver?: string;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function engineOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--isolation <mode>', 'auto, dind, dind-caps, socket, sysbox, runcvm or kata').choices([...ISOLATION_MODES]).default('auto').env('NESTOR_ENGINE_ISOLATION'))
    .addOption(new Option('--runtime <name>', 'OCI runtime name for sysbox, runcvm or kata when registered under another name').env('NESTOR_ENGINE_RUNTIME'))
    .addOption(new Option('--port <port>', 'publish the TLS port on the host at this port').env('NESTOR_ENGINE_PORT'))
    .addOption(new Option('--network <name>', 'join this network instead of making one').env('NESTOR_ENGINE_NETWORK'))
    .addOption(new Option('--memory <mb>', 'memory limit in MB').default('2048').env('NESTOR_ENGINE_MEMORY'))
    .addOption(new Option('--cpus <n>', 'CPU limit').default('2').env('NESTOR_ENGINE_CPUS'))
    .addOption(new Option('--storage <kind>', 'tmpfs (fast, lost on stop) or volume').choices(['tmpfs', 'volume']).default('tmpfs').env('NESTOR_ENGINE_STORAGE'))
    .addOption(new Option('--image <image>', 'DinD image (default: docker:dind, else the bootstrapped one)').env('NESTOR_ENGINE_IMAGE'))
    .option('--registry-mirror <url>', 'extra registry mirror for the nested daemon (repeatable)', collect, [])
    .option('--insecure-registry <host:port>', 'registry reached over plain HTTP (repeatable)', collect, [])
    .option('--mtu <bytes>', 'MTU of the nested daemon\'s bridge (match the host\'s on VPNs and clouds)')
    .option('--storage-driver <driver>', 'storage driver of the nested daemon (default: its own choice)')
    .option('--json', 'machine-readable output');
}

function toProvisionOptions(name: string, f: StartFlags): Omit<ProvisionOptions, 'host'> {
  const number = (value: string | undefined, what: string): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new NestorError('NESTOR_BAD_OPTION', `${what} must be a positive number, not ${JSON.stringify(value)}`, `Pass a number, e.g. --${what} 2.`);
    return n;
  };
  const port = number(f.port, 'port');
  const mtu = number(f.mtu, 'mtu');
  return {
    name,
    isolation: f.isolation,
    memoryMb: number(f.memory, 'memory')!,
    cpus: number(f.cpus, 'cpus')!,
    storage: { kind: f.storage },
    persistent: true,
    joinRegistry: 'read-only',
    ...(port !== undefined ? { publishPort: port } : {}),
    ...(f.network ? { network: f.network } : {}),
    ...(f.image ? { image: f.image } : {}),
    engineImages: engineImages(process.env),
    ...(f.runtime ? { runtime: f.runtime } : {}),
    daemon: {
      registryMirrors: [REGISTRY_ALIAS_URL, ...f.registryMirror],
      insecureRegistries: [`${REGISTRY_ALIAS}:5000`, ...f.insecureRegistry],
      ...(mtu ? { mtu } : {}),
      ...(f.storageDriver ? { storageDriver: f.storageDriver } : {}),
    },
  };
}

export function registerEngineCommands(program: Command): void {
  const engine = program.command('engine').description('Start, inspect, test and remove nested Docker engines');
  const defaultName = process.env.NESTOR_ENGINE_NAME ?? 'default';

  engineOptions(engine.command('start').argument('[name]', 'engine name', defaultName).description('Start a named nested engine that outlives this command'))
    .action(action(async (out, name: string, flags: StartFlags) => {
      const host = await hostEngine();
      if (await findEngineContainer(host.docker, name)) {
        throw new NestorError('NESTOR_ENGINE_EXISTS', `An engine named ${name} exists already`, `Use it, or replace it: nestor engine restart ${name} (or stop ${name} first).`);
      }
      // A named engine outlives this process, so it pulls from the shared registry directly.
      await ensureReadOnlyRegistry(host.docker);
      const opts = toProvisionOptions(name, flags);
      out.progress(`starting nested engine ${name} …`);
      const eng = await provision({ ...opts, host, extraLabels: { [LABEL_OPTIONS]: JSON.stringify(flags) } });
      return reportStarted(out, eng);
    }));

  engine
    .command('status')
    .argument('[name]', 'engine name (all engines when omitted)')
    .option('--json', 'machine-readable output')
    .description('Show engines, or one engine\'s health')
    .action(action(async (out, name: string | undefined) => {
      const host = await hostEngine();
      if (!name) {
        const list = await host.docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL_MANAGED}=true`, 'dev.nestor.role=engine'] }) });
        const rows = list.map((c) => ({
          name: c.Labels[LABEL_ENGINE],
          state: c.State,
          isolation: c.Labels[LABEL_ISOLATION],
          persistent: c.Labels[LABEL_PERSISTENT] === 'true',
          owner: c.Labels[LABEL_OWNER] ?? null,
          created: new Date(c.Created * 1000).toISOString(),
        }));
        out.result(rows);
        if (!rows.length) out.line('No nested engines. Start one with `nestor engine start`.');
        for (const r of rows) out.line(`${r.name}\t${r.state}\t${r.isolation}\t${r.persistent ? 'named' : `owner ${r.owner}`}`);
        return 0;
      }
      const eng = await attachEngine(host, name);
      const health = await eng.health(1500);
      const info = health.healthy ? await eng.docker.info() : undefined;
      const status = {
        name,
        healthy: health.healthy,
        reason: health.reason ?? null,
        isolation: eng.isolation,
        address: eng.client.address,
        version: info?.ServerVersion ?? null,
        containers: info?.Containers ?? null,
        images: info?.Images ?? null,
        storageDriver: info?.Driver ?? null,
      };
      out.result(status);
      out.line(`${out.mark(health.healthy)} ${name}: ${health.healthy ? 'healthy' : `unhealthy (${health.reason})`}`);
      out.line(`  isolation ${eng.isolation}, ${eng.client.address}${info ? `, Docker ${info.ServerVersion}, ${info.Containers} containers, ${info.Images} images` : ''}`);
      if (!health.healthy) out.line(out.dim(await eng.logTail(15)));
      return health.healthy ? 0 : 1;
    }));

  engineOptions(
    engine
      .command('test')
      .argument('[name]', 'engine to test; a throw-away engine when omitted')
      .description('Run a container, build an image, and check networking and a volume inside a nested engine'),
  ).action(action(async (out, name: string | undefined, flags: StartFlags) => {
    const host = await hostEngine();
    const supply = await ImageSupply.start(host);
    let eng: NestedEngine | undefined;
    const throwAway = !name;
    try {
      if (name) {
        eng = await attachEngine(host, name);
      } else {
        out.progress('starting a throw-away nested engine …');
        const opts = toProvisionOptions('', flags);
        eng = await provision({
          ...opts,
          name: undefined,
          persistent: false,
          host,
          daemon: { ...opts.daemon, ...supply.daemonOptions() },
        });
        for (const n of eng.notices) out.progress(`note: ${n}`);
        out.progress(`engine ${eng.name} ready in ${Math.round(eng.readyMs)} ms (${eng.isolation})`);
      }
      out.progress(`supplying ${BASE_ALIAS} from the host's image cache …`);
      await supply.preload([BASE_ALIAS], eng);
      const results = await selfTest(eng.docker, BASE_ALIAS);
      const ok = results.every((r) => r.ok);
      out.result({ engine: eng.name, isolation: eng.isolation, readyMs: Math.round(eng.readyMs), ok, checks: results });
      for (const r of results) out.line(`${out.mark(r.ok)} ${r.name} ${out.dim(`(${r.durationMs} ms)`)}: ${r.detail}`);
      out.line(ok ? out.green(`engine ${eng.name} works`) : out.red(`engine ${eng.name} failed ${results.filter((r) => !r.ok).length} check(s)`));
      return ok ? 0 : 1;
    } finally {
      if (throwAway) await eng?.destroy();
      await supply.close();
    }
  }));

  engine
    .command('stop')
    .argument('[name]', 'engine name', defaultName)
    .option('--json', 'machine-readable output')
    .description('Remove a nested engine with its network and storage')
    .action(action(async (out, name: string) => {
      const host = await hostEngine();
      const removed = await removeLabelled(host.docker, [`${LABEL_MANAGED}=true`, `${LABEL_ENGINE}=${name}`]);
      out.result({ name, removed });
      if (!removed.containers.length) {
        out.line(`No engine named ${name}; nothing to stop.`);
        return 1;
      }
      out.line(`stopped ${name}: removed ${removed.containers.length} container(s), ${removed.networks.length} network(s), ${removed.volumes.length} volume(s)`);
      return 0;
    }));

  engine
    .command('restart')
    .argument('[name]', 'engine name', defaultName)
    .option('--json', 'machine-readable output')
    .description('Replace a named engine with a fresh one started with the same options')
    .action(action(async (out, name: string) => {
      const host = await hostEngine();
      const existing = await findEngineContainer(host.docker, name);
      if (!existing) throw new NestorError('NESTOR_ENGINE_NOT_FOUND', `No nested engine named ${name}`, `Start it: nestor engine start ${name}`);
      const flags = JSON.parse(existing.Labels[LABEL_OPTIONS] ?? '{}') as StartFlags;
      await ensureReadOnlyRegistry(host.docker);
      await removeLabelled(host.docker, [`${LABEL_MANAGED}=true`, `${LABEL_ENGINE}=${name}`]);
      const eng = await provision({ ...toProvisionOptions(name, { ...DEFAULT_FLAGS, ...flags }), host, extraLabels: { [LABEL_OPTIONS]: JSON.stringify(flags) } });
      return reportStarted(out, eng);
    }));

  engine
    .command('cleanup')
    .option('--all', 'also remove named engines and the shared image registry')
    .option('--dry-run', 'list what would be removed')
    .option('--json', 'machine-readable output')
    .description('Remove engines whose owning process is gone (after a crash or kill -9)')
    .action(action(async (out, flags: { all?: boolean; dryRun?: boolean }) => {
      const host = await hostEngine();
      const removed = await cleanupOrphans(host.docker, { all: Boolean(flags.all), dryRun: Boolean(flags.dryRun) });
      out.result(removed);
      const verb = flags.dryRun ? 'would remove' : 'removed';
      out.line(`${verb} ${removed.containers.length} container(s), ${removed.networks.length} network(s), ${removed.volumes.length} volume(s)`);
      for (const c of removed.containers) out.line(out.dim(`  ${c}`));
      return 0;
    }));
}

const DEFAULT_FLAGS: StartFlags = { isolation: 'auto', memory: '2048', cpus: '2', storage: 'tmpfs', registryMirror: [], insecureRegistry: [] };

function reportStarted(out: Output, eng: NestedEngine): number {
  const certDir = join(dataDir(process.env), 'engines', eng.name);
  const env = eng.cliEnvironment(certDir);
  out.result({ name: eng.name, isolation: eng.isolation, readyMs: Math.round(eng.readyMs), notices: eng.notices, env });
  for (const n of eng.notices) out.progress(`note: ${n}`);
  out.line(`${out.mark(true)} engine ${out.bold(eng.name)} ready in ${Math.round(eng.readyMs)} ms (${eng.isolation})`);
  out.line('Use it from this shell with:');
  for (const [k, v] of Object.entries(env)) out.line(`  export ${k}=${v}`);
  return 0;
}
