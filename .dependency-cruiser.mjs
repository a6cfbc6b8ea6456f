// Nestor's architecture rules. Run them with `npm run check:deps` (scripts/check-deps.ts), which
// gives this file to dependency-cruiser and adds the folder-cycle rule below, that
// dependency-cruiser cannot express; test/architecture.test.ts runs the same check.
//
// The parser is swc (@swc/core, a devDependency): dependency-cruiser's `tsc` parser needs
// TypeScript's compiler API, which TypeScript 7 does not have. swc parses the .ts files itself
// and reports every import, `import type` and `import()` included; `tsPreCompilationDeps` is a
// switch of the tsc parser only, so it is left unset.

/** Where Docker is: the dockerode package, however it is reached. */
export const DOCKERODE = ['(^|/)node_modules/dockerode/', '(^|/)node_modules/@types/dockerode/', '^dockerode(/|$)'];

/**
 * Files of src/server and src/gitops that may import dockerode: none. GitOps reaches engines
 * through src/engine (its image build, push and copy: engine/images/image-transfer.ts). The
 * list may only shrink: the check fails on an entry that no longer imports dockerode, and the
 * architecture test on an entry added.
 */
export const DOCKERODE_ALLOWED_IN_SERVER_AND_GITOPS = [];

const escape = (path) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Rule (a), checked by scripts/check-deps.ts on the dependencies dependency-cruiser found: no
 * cycle between the top-level modules of src/. A top-level module is a folder (src/server, with
 * everything under it) or a file directly in src/ (src/errors.ts). server → gitops and
 * gitops → server is a cycle even when the two imports are in unrelated files.
 */
export const FOLDER_CYCLE_RULE = {
  name: 'no-folder-cycle',
  comment: 'the top-level modules of src/ import each other one way only: a cycle between two of them (through any files) makes them one module',
  /** The top-level module of a path: the first match of this pattern. */
  module: '^src/[^/]+',
};

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-import-of-cli',
      severity: 'error',
      comment: 'src/cli is the edge: it may import anything and nothing imports it',
      from: { pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'pipeline-knows-no-docker',
      severity: 'error',
      comment: 'the pipeline readers and compiler know no Docker: nothing from dockerode, src/engine, src/runner, src/server, src/gitops or src/functions',
      from: { path: '^src/pipeline/' },
      to: { path: ['^src/(engine|runner|server|gitops|functions)/', ...DOCKERODE] },
    },
    {
      name: 'scheduler-knows-no-docker',
      severity: 'error',
      comment: 'the scheduler walks the plan through the Backend interface (src/backend/backend.ts) alone: nothing from dockerode, src/engine or src/backend/docker',
      from: { path: '^src/scheduler/' },
      to: { path: ['^src/engine/', '^src/backend/docker/', ...DOCKERODE] },
    },
    {
      name: 'no-dockerode-in-server-gitops',
      severity: 'error',
      comment: 'src/server and src/gitops reach Docker through src/engine, never dockerode directly (apart from DOCKERODE_ALLOWED_IN_SERVER_AND_GITOPS)',
      from: { path: '^src/(server|gitops)/', pathNot: DOCKERODE_ALLOWED_IN_SERVER_AND_GITOPS.map((file) => `^${escape(file)}$`) },
      to: { path: DOCKERODE },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import the check cannot resolve is an edge it cannot see',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
  },
};
