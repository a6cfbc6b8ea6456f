/**
 * Address pools for a nested dockerd's own networks.
 *
 * A nested dockerd picks the subnets of its bridge networks (its docker0, and every network a
 * job makes: `docker network create`, docker-compose's `<project>_default`) from Docker's
 * default pools, skipping only those that overlap a route in its own network namespace. The
 * host's other Docker networks are not routes there: they are reached through the default
 * route. So a job engine happily gives a compose network 172.18.0.0/16 when that is the host's
 * supply network, and from then on the mirror's address (its gateway) is a local address of
 * the job engine, where nothing listens: every pull is refused. Giving the nested dockerd the
 * default pools without the subnets it must reach keeps those reachable.
 */

export interface AddressPool {
  /** A CIDR block, e.g. 172.17.0.0/16. */
  base: string;
  /** The prefix length of each network cut from it. */
  size: number;
}

/** Docker's built-in local pools (libnetwork ipamutils), in the order dockerd uses them. */
export const DOCKER_DEFAULT_POOLS: readonly AddressPool[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

interface Block {
  address: number;
  prefix: number;
}

/**
 * `pools` without any address of `subnets`: a pool that overlaps one is split into the largest
 * blocks that do not (never smaller than the pool's network size), so dockerd allocates what
 * it would have, except those addresses. Subnets that are not IPv4 CIDRs are ignored.
 */
export function poolsAvoiding(subnets: readonly string[], pools: readonly AddressPool[] = DOCKER_DEFAULT_POOLS): AddressPool[] {
  let blocks = pools.map((p) => ({ block: parseCidr(p.base), size: p.size }));
  for (const subnet of subnets) {
    const avoid = tryParseCidr(subnet);
    if (!avoid) continue;
    blocks = blocks.flatMap(({ block, size }) => without(block, avoid, size).map((b) => ({ block: b, size })));
  }
  return blocks.map(({ block, size }) => ({ base: formatCidr(block), size }));
}

/** Whether two IPv4 CIDR blocks share an address. */
export function cidrsOverlap(a: string, b: string): boolean {
  return overlap(parseCidr(a), parseCidr(b));
}

function without(block: Block, avoid: Block, size: number): Block[] {
  if (!overlap(block, avoid)) return [block];
  // Covered entirely, or a single network of the pool: nothing of it can be used.
  if (avoid.prefix <= block.prefix || block.prefix >= size) return [];
  const prefix = block.prefix + 1;
  const halves = [
    { address: block.address, prefix },
    { address: block.address + 2 ** (32 - prefix), prefix },
  ];
  return halves.flatMap((h) => without(h, avoid, size));
}

function overlap(a: Block, b: Block): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return network(a.address, prefix) === network(b.address, prefix);
}

function network(address: number, prefix: number): number {
  return prefix === 0 ? 0 : (address & (0xffffffff << (32 - prefix))) >>> 0;
}

function parseCidr(cidr: string): Block {
  const block = tryParseCidr(cidr);
  if (!block) throw new Error(`not an IPv4 CIDR block: ${cidr}`);
  return block;
}

function tryParseCidr(cidr: string): Block | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  return { address: network(address, prefix), prefix };
}

function formatCidr(b: Block): string {
  return `${[24, 16, 8, 0].map((shift) => (b.address >>> shift) & 255).join('.')}/${b.prefix}`;
}
