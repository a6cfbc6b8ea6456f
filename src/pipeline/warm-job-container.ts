import { DEFAULT_STEP_IMAGE } from '../config.ts';
import { compileText } from './load.ts';
import type { PlanContainer } from './plan.ts';

/** The smallest workflow whose job runs where most do: `runs-on: ubuntu-latest`. */
const WORKFLOW = `on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - run: 'true'
`;

/**
 * The container a GitHub job on `runs-on: ubuntu-latest` starts first and runs all its steps
 * in, as the compiler makes it (taken from a compiled workflow, so it cannot drift from what
 * jobs get), without its variables, which its steps set for themselves: what a runner's warm
 * engines start ahead for such a job to adopt. `platforms` is the runner's `-P` table.
 */
export function githubJobContainer(platforms: Record<string, string> = {}): PlanContainer {
  const [plan] = compileText({ file: '.github/workflows/warm.yml', text: WORKFLOW }, { defaultImage: DEFAULT_STEP_IMAGE, event: 'push', branch: 'main', platforms });
  const step = plan?.steps.find((s) => s.detach);
  if (!step) throw new Error('a GitHub job compiled without its job container');
  const { name, image, entrypoint, command, secrets, privileged, mounts, engine, workingDir, user, networkMode } = step;
  return {
    name,
    image,
    ...(entrypoint ? { entrypoint } : {}),
    ...(command ? { command } : {}),
    environment: {},
    secrets,
    privileged,
    mounts,
    engine,
    workingDir,
    ...(user !== undefined ? { user } : {}),
    ...(networkMode !== undefined ? { networkMode } : {}),
  };
}
