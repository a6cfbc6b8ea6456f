// `npm run check:deps`: the import rules of .dependency-cruiser.mjs, checked on src/ of the current
// directory. dependency-cruiser (with the swc parser) reads every file and checks its own rules; the
// folder-cycle rule, which it cannot express, is checked here on the dependencies it found.
//
//   node scripts/check-deps.ts          a report; exit status 1 on any violation
//   node scripts/check-deps.ts --json   the same as JSON on stdout (test/architecture.test.ts reads it)
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cruise, getAvailableTranspilers, type ICruiseResult, type IModule } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';

interface Violation {
  rule: string;
  /** For a folder cycle, the modules in it (`to` repeats them). */
  from: string;
  to: string;
  /** What to read: for a folder cycle, one import for each step between its modules. */
  details?: string[];
}

interface FolderRule {
  name: string;
  comment: string;
  module: string;
}

const CONFIG_FILE = '.dependency-cruiser.mjs';
const asJson = process.argv.includes('--json');
const root = process.cwd();
const configPath = join(root, CONFIG_FILE);
const config = (await import(pathToFileURL(configPath).href)) as {
  FOLDER_CYCLE_RULE: FolderRule;
  DOCKERODE: string[];
  DOCKERODE_ALLOWED_IN_SERVER_AND_GITOPS: string[];
};

const options = await extractDepcruiseOptions(configPath);
// No outputType: the result comes back as an object rather than a report.
const cruised = await cruise(['src'], options);
const result = cruised.output as ICruiseResult;

const violations: Violation[] = result.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
const comments = new Map<string, string>();
for (const rule of options.ruleSet?.forbidden ?? []) if (rule.name && rule.comment) comments.set(rule.name, rule.comment);
comments.set(config.FOLDER_CYCLE_RULE.name, config.FOLDER_CYCLE_RULE.comment);

const isSrcTs = (path: string) => /^src\/.*\.ts$/.test(path);
const local = (m: IModule) => m.dependencies.filter((d) => !d.couldNotResolve && !d.coreModule);

// Evidence that the parser read the TypeScript: a check that sees no imports passes on anything.
let tsImports = 0;
let typeOnlyImports = 0;
for (const m of result.modules) {
  if (!isSrcTs(m.source)) continue;
  for (const d of local(m)) {
    if (!isSrcTs(d.resolved)) continue;
    tsImports++;
    if (d.dependencyTypes.includes('type-only')) typeOnlyImports++;
  }
}
// Without swc, dependency-cruiser falls back to a loose JavaScript parser that loses `import type`.
const swc = getAvailableTranspilers().find((t) => t.name === 'swc');
const blind = [
  ...(swc?.available ? [] : ['the swc parser (@swc/core) is not installed: run npm ci']),
  ...(tsImports === 0 ? ['no import between two .ts files of src/ was found'] : []),
  ...(typeOnlyImports === 0 ? ['no `import type` was found: the parser did not read the files as TypeScript'] : []),
];
if (blind.length) violations.push({ rule: 'sees-the-imports', from: 'src', to: 'src', details: blind });
comments.set('sees-the-imports', 'a check that does not see the imports would pass on anything');

// Rule (a): the top-level modules of src/ and the imports between them, one example import each.
const moduleOf = (path: string): string | undefined => new RegExp(config.FOLDER_CYCLE_RULE.module).exec(path)?.[0];
const folderEdges = new Map<string, Map<string, string>>();
for (const m of [...result.modules].sort((a, b) => a.source.localeCompare(b.source))) {
  const from = moduleOf(m.source);
  if (!from) continue;
  for (const d of local(m)) {
    const to = moduleOf(d.resolved);
    if (!to || to === from) continue;
    const out = folderEdges.get(from) ?? new Map<string, string>();
    folderEdges.set(from, out);
    if (!out.has(to)) out.set(to, `${m.source} → ${d.resolved}`);
  }
}
for (const cycle of stronglyConnected(folderEdges)) {
  if (cycle.length < 2) continue;
  const members = new Set(cycle);
  const imports: string[] = [];
  for (const from of cycle) for (const [to, example] of folderEdges.get(from) ?? []) if (members.has(to)) imports.push(`${from} → ${to}: ${example}`);
  violations.push({ rule: config.FOLDER_CYCLE_RULE.name, from: cycle.join(' ⇄ '), to: cycle.join(' ⇄ '), details: imports });
}

// The dockerode allow-list only shrinks: an entry that no longer imports dockerode is to be removed.
const dockerode = config.DOCKERODE.map((pattern) => new RegExp(pattern));
for (const file of config.DOCKERODE_ALLOWED_IN_SERVER_AND_GITOPS) {
  const m = result.modules.find((candidate) => candidate.source === file);
  if (!m || !m.dependencies.some((d) => dockerode.some((re) => re.test(d.resolved)))) {
    violations.push({ rule: 'stale-allow-list', from: file, to: 'dockerode', details: [`${file} is in DOCKERODE_ALLOWED_IN_SERVER_AND_GITOPS but does not import dockerode: take it off the list`] });
  }
}
comments.set('stale-allow-list', 'the dockerode allow-list only shrinks');

const report = {
  modules: result.summary.totalCruised,
  dependencies: result.summary.totalDependenciesCruised,
  tsImports,
  typeOnlyImports,
  topLevelModules: [...new Set([...folderEdges.keys(), ...[...folderEdges.values()].flatMap((out) => [...out.keys()])])].sort(),
  dockerodeAllowList: config.DOCKERODE_ALLOWED_IN_SERVER_AND_GITOPS,
  folderImports: [...folderEdges].flatMap(([from, out]) => [...out.keys()].map((to) => `${from} → ${to}`)),
  violations,
};

if (asJson) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(`${report.modules} modules, ${report.dependencies} dependencies cruised (${options.parser} parser): ${tsImports} imports between .ts files of src/, ${typeOnlyImports} of them import type; ${report.folderImports.length} between its ${report.topLevelModules.length} top-level modules`);
  for (const v of violations) {
    console.log(`\n  error ${v.rule}: ${v.from === v.to ? v.from : `${v.from} → ${v.to}`}`);
    if (comments.has(v.rule)) console.log(`    (${comments.get(v.rule)})`);
    for (const line of v.details ?? []) console.log(`    ${line}`);
  }
  console.log(violations.length ? `\n✖ ${violations.length} violation${violations.length === 1 ? '' : 's'}` : '✔ no violations');
}
process.exitCode = violations.length ? 1 : 0;

/** Tarjan's strongly connected components: each cycle of the graph is inside one of them. */
function stronglyConnected(graph: Map<string, Map<string, string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components;
}
