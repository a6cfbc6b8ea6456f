import { DEFAULT_RUNNER_IMAGE } from '../../config.ts';
import { hostPlatform } from '../../platform.ts';
import { PLATFORM_UNAVAILABLE, type PipelineNotice, type PipelineProblem } from '../errors.ts';
import { ExpressionError, type ExpressionScope } from '../github/expression.ts';
import { fill } from '../github/templates.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import type { GithubJob } from './github-schema.ts';

/**
 * `runs-on` → the image a job's steps run in, by a platform table: `-P LABEL=IMAGE` first,
 * then GitHub's Ubuntu labels and the self-hosted ones, which get DEFAULT_RUNNER_IMAGE.
 * Windows and macOS cannot be had in a Linux container: such a job is not run, and said so.
 * A label the table does not know is a runner label: on a server only a runner with it takes
 * the job.
 */

/** Labels every Linux runner answers to, GitHub's and self-hosted runners' alike. */
const STANDARD = new Set(['self-hosted', 'linux', 'x64', 'arm64', 'x86_64', 'amd64']);
const UBUNTU = /^ubuntu-(latest|\d\d\.\d\d)(-arm)?$/;

export interface RunsOn {
  image: string;
  /** Runner labels the job asks for, beyond what every runner has. */
  labels: string[];
  /** Why the job cannot run here (Windows, macOS). */
  unavailable?: string;
}

export function runsOnImage(
  source: YamlSource,
  runsOn: NonNullable<GithubJob['runs-on']>,
  at: PathSegment[],
  scope: ExpressionScope,
  platforms: Record<string, string>,
  problems: PipelineProblem[],
  notices: PipelineNotice[],
  /** The job's `container:` image, where the steps run instead of the runner's image. */
  containerImage?: string,
): RunsOn {
  const written = typeof runsOn === 'string' ? [runsOn] : Array.isArray(runsOn) ? runsOn : [...(typeof runsOn.labels === 'string' ? [runsOn.labels] : runsOn.labels ?? [])];
  // A runner group is a pool of runners: here, the runners started with the label group=NAME.
  const group = typeof runsOn === 'object' && !Array.isArray(runsOn) && runsOn.group ? [`group=${runsOn.group}`] : [];
  let labels: string[];
  try {
    labels = written.map((l) => fill(l, scope).trim()).flatMap((l) => (l.startsWith('[') ? parseList(l) : [l])).filter(Boolean);
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    problems.push({ position: source.position(at, 'runs-on'), message: err.message });
    return { image: DEFAULT_RUNNER_IMAGE, labels: [] };
  }
  const lower = labels.map((l) => l.toLowerCase());
  const os = lower.find((l) => /windows|macos|osx/.test(l));
  if (os) {
    notices.push(source.notice(at, 'runs-on', PLATFORM_UNAVAILABLE, `runs-on ${labels.join(', ')}: ${os.includes('windows') ? 'Windows' : 'macOS'} cannot run in a Linux container, so this job is not run here; the workflow's Linux jobs are`, 'degraded'));
    return { image: DEFAULT_RUNNER_IMAGE, labels: [], unavailable: `it runs on ${os}, which Nestor's Linux engines cannot give` };
  }
  const given = labels.find((l) => platforms[l] !== undefined);
  if (given) return { image: platforms[given]!, labels: group };
  const arm = lower.some((l) => l.endsWith('-arm') || l === 'arm64');
  const extra = [...labels.filter((l) => !STANDARD.has(l.toLowerCase()) && !UBUNTU.test(l.toLowerCase())), ...group];
  const runnerLabels = [...extra, ...(arm ? ['platform=linux/arm64'] : [])];
  if (arm && hostPlatform() !== 'linux/arm64') {
    notices.push(source.notice(at, 'runs-on', PLATFORM_UNAVAILABLE, `runs-on ${labels.join(', ')} asks for an arm64 machine: on a server only an arm64 runner takes it; nestor run here runs it on ${hostPlatform()}`, 'degraded'));
  }
  if (extra.length) {
    notices.push(source.notice(at, 'runs-on', 'NESTOR_RUNNER_LABELS', `runs-on ${labels.join(', ')}: ${extra.join(', ')} ${extra.length > 1 ? 'are runner labels' : 'is a runner label'}: on a server only a runner started with --labels ${extra.join(',')} takes the job; nestor run runs it here, in ${containerImage ?? `${DEFAULT_RUNNER_IMAGE} (-P ${extra[0]}=IMAGE picks another)`}`, 'info'));
  } else if (containerImage !== undefined) {
    notices.push(source.notice(at, 'runs-on', 'NESTOR_RUNS_ON_IMAGE', `runs-on ${labels.join(', ')}: the job's steps run in its container ${containerImage}, in an engine of its own`, 'info'));
  } else {
    notices.push(source.notice(at, 'runs-on', 'NESTOR_RUNS_ON_IMAGE', `runs-on ${labels.join(', ')}: the job runs in ${DEFAULT_RUNNER_IMAGE} (Debian bookworm with bash, git, curl, docker, docker-compose, python3, jq, make and sudo), in an engine of its own; -P ${labels[0] ?? 'ubuntu-latest'}=IMAGE picks another`, 'info'));
  }
  return { image: DEFAULT_RUNNER_IMAGE, labels: runnerLabels };
}

/** `runs-on: ${{ fromJSON(...) }}` may give a list, which fills in as JSON text. */
function parseList(text: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.map(String) : [text];
  } catch {
    return [text];
  }
}
