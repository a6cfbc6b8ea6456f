import type { GithubStepKind } from '../github/job-plan.ts';

/**
 * What a step's `uses:` is, and what running it here means. Actions Nestor does itself
 * (checkout from the run's source, artifacts from its store, the cache) are done natively at
 * any version; `docker://` images run as they are; others live on a forge and are fetched when
 * the job runs, which needs that forge to be reachable.
 */

export type ActionUse =
  | { kind: Extract<GithubStepKind, 'checkout' | 'upload-artifact' | 'download-artifact' | 'cache'>; name: string; ref: string }
  | { kind: 'docker'; image: string }
  | { kind: 'local'; path: string }
  | { kind: 'remote'; owner: string; repo: string; path: string; ref: string; setup?: string }
  | { kind: 'invalid'; why: string };

const NATIVE: Record<string, Extract<GithubStepKind, 'checkout' | 'upload-artifact' | 'download-artifact' | 'cache'>> = {
  'actions/checkout': 'checkout',
  'actions/upload-artifact': 'upload-artifact',
  'actions/download-artifact': 'download-artifact',
  'actions/cache': 'cache',
  'actions/cache/restore': 'cache',
  'actions/cache/save': 'cache',
};

/** Setup actions: they install a toolchain from the internet, and the job can go on with the image's own. */
const SETUP = /^(actions\/setup-[a-z]+|astral-sh\/setup-uv|ruby\/setup-ruby|dtolnay\/rust-toolchain|actions-rs\/toolchain|pnpm\/action-setup|oven-sh\/setup-bun|denoland\/setup-deno|gradle\/actions\/setup-gradle|erlef\/setup-beam|haskell-actions\/setup|shivammathur\/setup-php|subosito\/flutter-action|julia-actions\/setup-julia|mlugg\/setup-zig|goto-bus-stop\/setup-zig|taiki-e\/install-action|Swatinem\/rust-cache|rui314\/setup-mold)$/i;

export function actionUse(uses: string): ActionUse {
  const text = uses.trim();
  if (text.startsWith('docker://')) {
    const image = text.slice('docker://'.length);
    return image ? { kind: 'docker', image } : { kind: 'invalid', why: 'docker:// names no image' };
  }
  if (text.startsWith('./') || text === '.') return { kind: 'local', path: text === '.' ? '.' : text.replace(/\/+$/, '') || '.' };
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) return { kind: 'invalid', why: `"${text}" names no version: write owner/repo@ref (a tag, branch or commit), ./path for an action of this repository, or docker://image` };
  const name = text.slice(0, at);
  const ref = text.slice(at + 1);
  const [owner, repo, ...path] = name.split('/');
  if (!owner || !repo) return { kind: 'invalid', why: `"${text}" is not owner/repo@ref` };
  const native = NATIVE[name.toLowerCase()];
  if (native) return { kind: native, name, ref };
  const full = `${owner}/${repo}${path.length ? `/${path.join('/')}` : ''}`;
  return { kind: 'remote', owner, repo, path: path.join('/'), ref, ...(SETUP.test(full) ? { setup: full } : {}) };
}
