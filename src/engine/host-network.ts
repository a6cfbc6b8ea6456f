import { readFileSync } from 'node:fs';

/** The MTU of the interface carrying this host's default route (Linux only). */
export function uplinkMtu(): { iface: string; mtu: number } | undefined {
  try {
    const routes = readFileSync('/proc/net/route', 'utf8').split('\n').slice(1);
    const def = routes.map((l) => l.trim().split(/\s+/)).find((f) => f[1] === '00000000');
    if (!def?.[0]) return undefined;
    return { iface: def[0], mtu: Number(readFileSync(`/sys/class/net/${def[0]}/mtu`, 'utf8').trim()) };
  } catch {
    return undefined;
  }
}
