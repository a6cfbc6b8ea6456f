import type Docker from 'dockerode';
import type { EngineClient } from '../engine-client.ts';
import { ENGINE_PORT } from './daemon-args.ts';

/**
 * Where this process reaches a nested engine's TLS port: the published port when there is one
 * to use (always for a remote host, whose container addresses are out of reach), otherwise the
 * sidecar's address on its own network.
 */
export function engineAddress(
  host: EngineClient,
  info: Docker.ContainerInspectInfo,
  network: string,
  usePublished: boolean,
): { host: string; port: number } {
  const published = info.NetworkSettings.Ports?.[`${ENGINE_PORT}/tcp`]?.[0]?.HostPort;
  if (usePublished && published) {
    return { host: host.endpoint.kind === 'unix' ? '127.0.0.1' : host.endpoint.host, port: Number(published) };
  }
  const ip = info.NetworkSettings.Networks[network]?.IPAddress;
  if (!ip) throw new Error(`engine container has no address on network ${network}`);
  return { host: ip, port: ENGINE_PORT };
}
