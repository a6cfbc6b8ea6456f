import { connect, ping } from '../src/engine/engine-client.ts';
import { EnginePool } from '../src/engine/pool.ts';
import { ImageSupply } from '../src/engine/images/supply.ts';
import { prepareStepSlots } from '../src/runner/step-slot.ts';
import { execSync } from 'node:child_process';
const host = connect(); await ping(host);
const supply = await ImageSupply.start(host);
for (const n of [0, 8]) {
  const pool = new EnginePool({ size: 1, engine: { host, isolation: 'auto', daemon: supply.daemonOptions(), images: ['busybox:latest'] }, prepare: (e) => prepareStepSlots(e, 'busybox:latest', n) });
  const t = performance.now();
  await pool.start();
  console.log(n, 'prep ms', Math.round(performance.now() - t));
  await new Promise((r) => setTimeout(r, 1000));
  console.log(execSync("docker stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.CPUPerc}}' | grep -i nestor").toString());
  await pool.close();
}
await supply.close();
