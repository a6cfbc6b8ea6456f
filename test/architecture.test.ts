import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The import rules of .dependency-cruiser.mjs (npm run check:deps), on the real tree and on a
// copy of it with violations planted. No Docker: the check only reads files.

const ROOT = new URL('..', import.meta.url).pathname;
const CHECK = join(ROOT, 'scripts/check-deps.ts');

interface Report {
  modules: number;
  dependencies: number;
  tsImports: number;
  typeOnlyImports: number;
  topLevelModules: string[];
  dockerodeAllowList: string[];
  folderImports: string[];
  violations: { rule: string; from: string; to: string; details?: string[] }[];
}

/** The check run in `dir`, as `npm run check:deps` runs it: its exit status and both reports. */
async function check(dir: string): Promise<{ status: number; report: Report; text: string }> {
  const run = (args: string[]) =>
    new Promise<{ status: number; stdout: string }>((resolve, reject) => {
      execFile(process.execPath, [CHECK, ...args], { cwd: dir, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (status !== 0 && status !== 1) reject(new Error(`the check crashed (${String(err?.code)}): ${stderr}`));
        else resolve({ status, stdout });
      });
    });
  const [json, text] = await Promise.all([run(['--json']), run([])]);
  assert.equal(text.status, json.status, 'the report and the JSON agree');
  return { status: json.status, report: JSON.parse(json.stdout) as Report, text: text.stdout };
}

/** The check must see the imports, or it would pass on anything. */
function assertSeesTheImports(report: Report) {
  assert.ok(report.modules > 150, `${report.modules} modules cruised`);
  assert.ok(report.tsImports > 400, `${report.tsImports} imports between .ts files of src/`);
  assert.ok(report.typeOnlyImports > 50, `${report.typeOnlyImports} import type among them`);
  for (const m of ['src/cli', 'src/server', 'src/gitops', 'src/pipeline', 'src/runner', 'src/scheduler', 'src/backend', 'src/engine', 'src/store', 'src/errors.ts']) assert.ok(report.topLevelModules.includes(m), `${m} is seen`);
}

test('the tree keeps its import rules: no folder cycle, nothing imports the CLI, the pipeline knows no Docker', async () => {
  const { status, report, text } = await check(ROOT);
  assert.deepEqual(report.violations, [], text);
  assert.equal(status, 0);
  assert.match(text, /✔ no violations/);
  assertSeesTheImports(report);
  assert.ok(report.folderImports.includes('src/server → src/gitops'), 'the server depends on GitOps');
  assert.ok(!report.folderImports.includes('src/gitops → src/server'), 'and never the reverse');
  assert.ok(report.folderImports.includes('src/server → src/store') && report.folderImports.includes('src/gitops → src/store'), 'both use the shared store');
  for (const file of report.dockerodeAllowList) {
    assert.ok(['src/gitops/builder.ts'].includes(file), `${file}: the dockerode allow-list only shrinks (issue 14 item 1 removes it)`);
  }
});

test('a folder cycle, a forbidden import, an import of the CLI and a stale allow-list entry each fail the check, by name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-architecture-'));
  try {
    for (const entry of ['src', 'test', 'package.json', '.dependency-cruiser.mjs']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const plant = (file: string, text: string) => writeFileSync(join(dir, file), text);

    // (i) The server depends on the pipeline (app.ts, submission.ts); the pipeline now imports a
    // type from the server, from a file that imports nothing of the pipeline.
    plant('src/pipeline/planted-cycle.ts', "import type { JobSpec } from '../server/store/store.ts';\nexport type Planted = JobSpec;\n");
    // (ii) Docker in the pipeline.
    plant('src/pipeline/planted-docker.ts', "import Docker from 'dockerode';\nexport const planted = new Docker();\n");
    // The scheduler reaching past the Backend interface: Docker's backend, an engine module, dockerode.
    plant('src/scheduler/planted-docker.ts', "import type { DockerBackend } from '../backend/docker/docker-backend.ts';\nimport type { NestedEngine } from '../engine/nested/nested-engine.ts';\nimport type Docker from 'dockerode';\nexport type Planted = [DockerBackend, NestedEngine, Docker];\n");
    // dockerode in the server, from a file not on the allow-list.
    plant('src/server/planted-docker.ts', "import type Docker from 'dockerode';\nexport type Planted = Docker;\n");
    // The CLI imported (the CLI imports the doctor: a cycle too).
    plant('src/doctor/planted-cli.ts', "export * from '../cli/output.ts';\n");
    // A file on the allow-list that does not import dockerode: its entry is stale.
    const rules = join(dir, '.dependency-cruiser.mjs');
    writeFileSync(rules, readFileSync(rules, 'utf8').replace('export const DOCKERODE_ALLOWED_IN_SERVER_AND_GITOPS = [];', "export const DOCKERODE_ALLOWED_IN_SERVER_AND_GITOPS = ['src/gitops/builder.ts'];"));

    const { status, report, text } = await check(dir);
    assert.equal(status, 1, text);
    assertSeesTheImports(report);
    const found = (rule: string, from: RegExp, to: RegExp) => report.violations.some((v) => v.rule === rule && from.test(v.from) && to.test(v.to));
    const cycle = (a: string, b: string) => report.violations.some((v) => v.rule === 'no-folder-cycle' && v.from.split(' ⇄ ').includes(a) && v.from.split(' ⇄ ').includes(b));
    assert.ok(cycle('src/pipeline', 'src/server'), `the pipeline ⇄ server cycle is named:\n${text}`);
    assert.ok(cycle('src/cli', 'src/doctor'), `the cli ⇄ doctor cycle is named:\n${text}`);
    assert.ok(found('pipeline-knows-no-docker', /^src\/pipeline\/planted-docker\.ts$/, /node_modules\/dockerode\//), `dockerode in the pipeline is named:\n${text}`);
    assert.ok(found('pipeline-knows-no-docker', /^src\/pipeline\/planted-cycle\.ts$/, /^src\/server\/store\/store\.ts$/), `the server in the pipeline is named:\n${text}`);
    for (const to of [/^src\/backend\/docker\/docker-backend\.ts$/, /^src\/engine\/nested\/nested-engine\.ts$/, /node_modules\/(@types\/)?dockerode\//]) {
      assert.ok(found('scheduler-knows-no-docker', /^src\/scheduler\/planted-docker\.ts$/, to), `the scheduler's import of ${to} is named:\n${text}`);
    }
    assert.ok(found('no-dockerode-in-server-gitops', /^src\/server\/planted-docker\.ts$/, /node_modules\/dockerode\//), `dockerode in the server is named:\n${text}`);
    assert.ok(found('no-import-of-cli', /^src\/doctor\/planted-cli\.ts$/, /^src\/cli\/output\.ts$/), `the import of the CLI is named:\n${text}`);
    assert.ok(found('stale-allow-list', /^src\/gitops\/builder\.ts$/, /dockerode/), `the stale allow-list entry is named:\n${text}`);
    // Nothing but what was planted: the copy was clean.
    const planted = /^src\/(pipeline\/planted-|scheduler\/planted-|server\/planted-|doctor\/planted-|gitops\/builder\.ts$)/;
    for (const v of report.violations) assert.ok(v.rule === 'no-folder-cycle' || planted.test(v.from), `only planted violations, not ${v.rule}: ${v.from} → ${v.to}`);
    assert.equal(report.violations.filter((v) => v.rule === 'no-folder-cycle').length, 2, text);
    // The report a person reads names them too.
    for (const name of ['no-folder-cycle', 'pipeline-knows-no-docker', 'scheduler-knows-no-docker', 'no-dockerode-in-server-gitops', 'no-import-of-cli', 'stale-allow-list']) assert.match(text, new RegExp(`error ${name}: `));
    assert.match(text, /src\/pipeline → src\/server: src\/pipeline\/planted-cycle\.ts → src\/server\/store\/store\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
