import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePool } from '../src/engine/pool.ts';
import { processOwner } from '../src/engine/ownership.ts';
import { hostEngine, objectsOf } from './helpers.ts';

const host = await hostEngine();

test('a warm pool hands out a ready engine at once, refills, and never reuses one', async () => {
  const pool = new EnginePool({ size: 1, engine: { host, isolation: 'dind-caps' } });
  try {
    await pool.start();
    assert.equal(pool.available, 1);

    const t0 = performance.now();
    const first = await pool.acquire();
    const acquireMs = performance.now() - t0;
    assert.ok(acquireMs < 50, `warm acquire took ${acquireMs.toFixed(1)} ms`);
    assert.equal((await first.health()).healthy, true);

    await new Promise<void>((resolve) => pool.once('ready', () => resolve()));
    assert.equal(pool.available, 1, 'the pool refilled in the background');

    const second = await pool.acquire();
    assert.notEqual(second.name, first.name, 'a second job gets another engine');

    await pool.release(first);
    assert.equal(await objectsOf(host, first.name), 0, 'a released engine is destroyed, not pooled');
    await pool.release(second);
  } finally {
    await pool.close();
  }
  const leftovers = await host.docker.listContainers({
    all: true,
    filters: JSON.stringify({ label: ['dev.nestor.role=engine', `dev.nestor.owner=${processOwner()}`] }),
  });
  assert.equal(leftovers.length, 0, 'closing the pool destroys its ready engines');
});

test('acquire on an empty pool starts an engine cold instead of waiting', async () => {
  const pool = new EnginePool({ size: 0, engine: { host, isolation: 'dind-caps' } });
  try {
    const engine = await pool.acquire();
    assert.equal((await engine.health()).healthy, true);
    await pool.release(engine);
  } finally {
    await pool.close();
  }
});

test('an engine left unused in the pool is frozen (no CPU at rest) and thawed when a job takes it', async () => {
  const pool = new EnginePool({ size: 1, engine: { host, isolation: 'dind-caps' }, pauseIdleAfterMs: 300 });
  try {
    await pool.start();
    await new Promise((r) => setTimeout(r, 1500));
    const [sidecar] = await host.docker.listContainers({ filters: JSON.stringify({ label: ['dev.nestor.role=engine', `dev.nestor.owner=${processOwner()}`] }) });
    assert.equal(sidecar?.State, 'paused', 'the idle engine is frozen');
    const t0 = performance.now();
    const engine = await pool.acquire();
    const acquireMs = performance.now() - t0;
    // A thaw takes a few tens of milliseconds; the bound is generous for a busy machine (bench:engine measures it).
    assert.ok(acquireMs < 250, `acquiring a frozen engine took ${acquireMs.toFixed(1)} ms`);
    assert.equal((await engine.health()).healthy, true, 'it answers at once once thawed');
    await pool.release(engine);
  } finally {
    await pool.close();
  }
});
