import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrsOverlap, DOCKER_DEFAULT_POOLS, poolsAvoiding } from './address-pools.ts';
import { daemonArgs } from './daemon-args.ts';

test('a /16 supply network is left out of the /16 pools; the others stay in dockerd\'s order', () => {
  assert.deepEqual(poolsAvoiding(['172.18.0.0/16']), [
    { base: '172.17.0.0/16', size: 16 },
    { base: '172.19.0.0/16', size: 16 },
    { base: '172.20.0.0/14', size: 16 },
    { base: '172.24.0.0/14', size: 16 },
    { base: '172.28.0.0/14', size: 16 },
    { base: '192.168.0.0/16', size: 20 },
  ]);
});

test('a subnet inside a larger pool splits it into the largest blocks around it', () => {
  assert.deepEqual(poolsAvoiding(['172.25.0.0/16']).filter((p) => p.base.startsWith('172.2')), [
    { base: '172.20.0.0/14', size: 16 },
    { base: '172.24.0.0/16', size: 16 },
    { base: '172.26.0.0/15', size: 16 },
    { base: '172.28.0.0/14', size: 16 },
  ]);
  // Smaller than the pool's network size: the whole network that holds it goes.
  assert.deepEqual(poolsAvoiding(['192.168.17.0/24']).filter((p) => p.base.startsWith('192.168')), [
    { base: '192.168.0.0/20', size: 20 },
    { base: '192.168.32.0/19', size: 20 },
    { base: '192.168.64.0/18', size: 20 },
    { base: '192.168.128.0/17', size: 20 },
  ]);
});

test('subnets outside the pools, or not IPv4, change nothing', () => {
  assert.deepEqual(poolsAvoiding(['10.1.0.0/16', 'fd00::/64', 'nonsense']), [...DOCKER_DEFAULT_POOLS]);
});

test('no pool left overlaps an avoided subnet', () => {
  for (const subnet of ['172.16.0.0/12', '172.31.255.0/24', '192.168.0.0/16', '172.18.0.0/16']) {
    for (const p of poolsAvoiding([subnet])) assert.ok(!cidrsOverlap(p.base, subnet), `${p.base} overlaps ${subnet}`);
  }
  assert.deepEqual(poolsAvoiding(['172.16.0.0/12']), [{ base: '192.168.0.0/16', size: 20 }]);
});

test('the pools reach dockerd as --default-address-pool flags', () => {
  const args = daemonArgs({ defaultAddressPools: [{ base: '172.17.0.0/16', size: 16 }, { base: '192.168.0.0/16', size: 20 }] });
  assert.deepEqual(args.filter((a) => a.startsWith('--default-address-pool')), [
    '--default-address-pool=base=172.17.0.0/16,size=16',
    '--default-address-pool=base=192.168.0.0/16,size=20',
  ]);
});
