import assert from 'node:assert/strict';
import { nestor, ROOT } from '../helpers.ts';

export interface RunOutput {
  code: number;
  logs: { job?: string; source: string; stream: string; text: string; time: string }[];
  result: { status: string; jobs: { name: string; status: string; steps: { name: string; status: string }[] }[] };
  raw: string;
}

/** `nestor run --json` on an example directory, parsed. */
export async function runExample(dir: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<RunOutput> {
  const r = await nestor(['run', '--json', '-C', `${ROOT}examples/${dir}`, ...args], env);
  const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string } & Record<string, unknown>);
  const result = events.find((e) => e.type === 'result') as unknown as RunOutput['result'] | undefined;
  assert.ok(result, `no result in the output:\n${r.stdout}\n${r.stderr}`);
  return { code: r.code, logs: events.filter((e) => e.type === 'log') as unknown as RunOutput['logs'], result, raw: r.stdout + r.stderr };
}
