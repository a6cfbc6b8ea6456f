import { NestorError } from '../errors.ts';
import type { IsolationMode } from '../engine/nested/isolation.ts';
import type { EngineExtras } from './agent.ts';
import type { RunnerConfig } from './runner-config.ts';

/** Where an effective setting came from, highest first: a flag, its NESTOR_* variable, runner.yaml, Nestor's default. */
export type SettingSource = 'flag' | 'env' | 'file' | 'default';

/** The settings a flag (or its variable) gives explicitly; absent ones fall to the file, then the defaults. */
export interface ExplicitRunnerFlags {
  server?: string;
  token?: string;
  name?: string;
  maxJobs?: number;
  labels?: string[];
  mode?: IsolationMode;
  trusted?: boolean;
  warm?: number;
  logLevel?: string;
  logFormat?: string;
  /** NESTOR_DEFAULT_IMAGE and NESTOR_INSECURE_REGISTRIES, when set. */
  stepImage?: string;
  insecureRegistries?: string[];
}

export interface RunnerDefaults {
  name: string;
  maxJobs: number;
  stepImage: string;
}

/** What the runner runs with: flags and variables over runner.yaml over defaults, with where each came from. */
export interface EffectiveRunnerSettings {
  server: string;
  token: string;
  name: string;
  labels: string[];
  maxJobs: number;
  warm: number;
  trusted: boolean;
  isolation: IsolationMode;
  stepImage: string;
  platforms: Record<string, string>;
  insecureRegistries: string[];
  engine: EngineExtras;
  logging: { level: string; format: string };
  from: Record<string, SettingSource>;
}

/**
 * Merges the three layers. `from` says for each flag-backed setting which layer won, for
 * `--check` and so that an operator can tell why a value is what it is. The server and the
 * token are needed from one layer or another.
 */
export function effectiveRunnerSettings(
  file: RunnerConfig | undefined,
  flags: ExplicitRunnerFlags,
  flagSources: Partial<Record<keyof ExplicitRunnerFlags, 'flag' | 'env'>>,
  defaults: RunnerDefaults,
): EffectiveRunnerSettings {
  const from: Record<string, SettingSource> = {};
  // `shown` names the setting as EffectiveRunnerSettings does (`mode` is its `isolation`).
  function pick<T>(key: keyof ExplicitRunnerFlags, flag: T | undefined, inFile: T | undefined, fallback: T, shown: string = key): T {
    if (flag !== undefined) return (from[shown] = flagSources[key] ?? 'flag'), flag;
    if (inFile !== undefined) return (from[shown] = 'file'), inFile;
    return (from[shown] = 'default'), fallback;
  }
  const server = pick('server', flags.server, file?.server?.url, undefined);
  const token = pick('token', flags.token, file?.server?.token, undefined);
  if (!server || !token) {
    const missing = !server ? ['--server (NESTOR_SERVER)', 'server.url'] : ['--token (NESTOR_RUNNER_TOKEN)', 'server.token'];
    throw new NestorError('NESTOR_USAGE', `The runner needs ${missing[0]}, or ${missing[1]} in its --config file`, `Give ${missing[0]}, or set ${missing[1]} in runner.yaml (the token may be \${NESTOR_RUNNER_TOKEN}).`);
  }
  const maxJobs = pick('maxJobs', flags.maxJobs, file?.runner?.max_concurrent_jobs, defaults.maxJobs);
  const e = file?.engine;
  const log = e?.log;
  return {
    server,
    token,
    name: pick('name', flags.name, file?.runner?.name, defaults.name),
    labels: pick('labels', flags.labels, file?.runner?.labels, []),
    maxJobs,
    // Warm engines as many as jobs at once unless told: a burst of that many starts on ready engines.
    warm: pick('warm', flags.warm, file?.runner?.warm, maxJobs),
    trusted: pick('trusted', flags.trusted, file?.runner?.trusted, false),
    isolation: pick('mode', flags.mode, e?.isolation, 'auto', 'isolation'),
    stepImage: pick('stepImage', flags.stepImage, file?.images?.default, defaults.stepImage),
    platforms: file?.images?.platforms ?? {},
    insecureRegistries: pick('insecureRegistries', flags.insecureRegistries, e?.insecure_registries, []),
    engine: {
      ...(e?.memory !== undefined ? { memoryMb: e.memory } : {}),
      ...(e?.cpus !== undefined ? { cpus: e.cpus } : {}),
      ...(e?.network ? { network: e.network } : {}),
      ...(e?.registry_mirrors?.length ? { registryMirrors: e.registry_mirrors } : {}),
      ...(log
        ? {
            log: {
              ...(log.driver ? { driver: log.driver } : {}),
              opts: { ...(log.max_size ? { 'max-size': log.max_size } : {}), ...(log.max_file !== undefined ? { 'max-file': String(log.max_file) } : {}) },
            },
          }
        : {}),
      ...(e?.daemon && Object.keys(e.daemon).length ? { daemonConfig: e.daemon as Record<string, unknown> } : {}),
      ...(e?.volumes?.length ? { volumes: e.volumes } : {}),
    },
    logging: {
      level: pick('logLevel', flags.logLevel, file?.logging?.level, 'info'),
      format: pick('logFormat', flags.logFormat, file?.logging?.format, 'auto'),
    },
    // Only the file sets these: no flag stands for them.
    from: Object.assign(from, { platforms: file?.images?.platforms ? 'file' : 'default', engine: e ? 'file' : 'default' }),
  };
}

/** The settings as `--check` shows them: the token never, only whether and where it is set. */
export function shownSettings(s: EffectiveRunnerSettings): Record<string, unknown> {
  return { ...s, token: '(set)' };
}
