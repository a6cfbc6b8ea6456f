// A notice-free compile of a large GitLab file (1,000 jobs over 3 stages, each extending a
// 10-level chain of templates, a third with needs), next to a bare `yaml` parse of the same
// text in the same run: the reader's own cost, which the issue bounds at 5× the parse.
// Run alone: node bench/gitlab-large.ts
import { parse } from 'yaml';
import { compileText } from '../src/pipeline/load.ts';

export function largeGitlabFile(jobs = 1000, depth = 10): string {
  const lines = ['stages: [build, test, deploy]', '.t0:', '  image: alpine:3.20', '  variables: {L0: "0"}', '  before_script: [echo 0]'];
  for (let i = 1; i < depth; i++) lines.push(`.t${i}:`, `  extends: .t${i - 1}`, `  variables: {L${i}: "${i}"}`);
  for (let j = 0; j < jobs; j++) {
    lines.push(`job-${j}:`, `  extends: .t${depth - 1}`, `  stage: ${['build', 'test', 'deploy'][j % 3]}`, `  script: [echo ${j}]`, ...(j % 3 === 2 ? [`  needs: [job-${j - 1}]`] : []));
  }
  return `${lines.join('\n')}\n`;
}

export function measureLargeGitlab(runs = 3): { compile_large_ms: number; parse_large_ms: number; compile_large_ratio: number } {
  const text = largeGitlabFile();
  const time = (work: () => unknown) => {
    work(); // warm
    const start = performance.now();
    for (let i = 0; i < runs; i++) work();
    return (performance.now() - start) / runs;
  };
  const parseMs = time(() => parse(text));
  const compileMs = time(() => {
    // Each GitLab job is a job of its own: 1,000 plans of one step.
    const plans = compileText({ file: '.gitlab-ci.yml', text }, { defaultImage: 'busybox:latest', branch: 'main', event: 'push' });
    if (plans.length !== 1000 || plans.some((p) => p.steps.length !== 1 || p.notices.length)) throw new Error('the large GitLab file did not compile to 1,000 notice-free jobs');
  });
  return { compile_large_ms: Math.round(compileMs), parse_large_ms: Math.round(parseMs), compile_large_ratio: Math.round((compileMs / parseMs) * 100) / 100 };
}

if (process.argv[1] === import.meta.filename) console.log(measureLargeGitlab());
