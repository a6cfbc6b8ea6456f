import { forward } from './forward.ts';
import { createConnection, createServer, type Socket } from 'node:net';

/** Whether a URL names this machine's loopback, which no container of a job's engine can reach. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

export interface ServerGateway {
  /** `http://GATEWAY:PORT`: the server as a job's containers reach it. */
  origin: string;
  close(): Promise<void>;
}

/**
 * The server at a loopback address (`nestor up`'s http://127.0.0.1:8080) made reachable by jobs:
 * a TCP forwarder on the supply network's gateway address, which every job engine reaches and
 * nothing beyond this machine does, to the server. Jobs then fetch their repository and
 * artifacts with their token (NESTOR_GIT_URL, the netrc of Drone's and Woodpecker's clones) as
 * they would from a server with a public address.
 */
export async function openServerGateway(server: string, listenHost: string): Promise<ServerGateway> {
  const target = new URL(server);
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const open = new Set<Socket>();
  const gateway = createServer({ allowHalfOpen: true }, (client) => forward(client, createConnection({ host, port, allowHalfOpen: true }), open));
  await new Promise<void>((resolve, reject) => {
    gateway.once('error', reject);
    gateway.listen(0, listenHost, () => resolve());
  });
  const address = gateway.address() as { port: number };
  return {
    origin: `${target.protocol}//${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${address.port}`,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => gateway.close(() => resolve()));
    },
  };
}

/** A job's server variables with the loopback origin replaced by the gateway's. */
export function throughGateway(variables: Record<string, string>, loopbackOrigin: string, gateway: ServerGateway): Record<string, string> {
  const host = new URL(gateway.origin).hostname;
  return Object.fromEntries(Object.entries(variables).map(([k, v]) => {
    if (/_NETRC_MACHINE$/.test(k)) return [k, host];
    return [k, v.startsWith(loopbackOrigin) ? gateway.origin + v.slice(loopbackOrigin.length) : v];
  }));
}
