import { NestorError } from '../errors.ts';
import { splitTag } from './images/reference.ts';

/** Pure decisions of `nestor prune`: which images go, given age and how many to keep. */
export interface ImageFacts {
  id: string;
  repoTags: string[];
  createdMs: number;
}

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(text.trim());
  if (!m) throw new NestorError('NESTOR_BAD_OPTION', `"${text}" is not a duration; use a number and a unit, e.g. 90m, 24h or 7d`, 'Give a number and one of the units s, m, h, d or w, e.g. 24h.');
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86_400e3, w: 604_800e3 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

function repositoryOf(tag: string): string {
  return splitTag(tag)[0];
}

/**
 * An image goes when it is older than the cut-off and not among the newest `keep` of any of its
 * repositories; what is hot (recent or among the newest) stays.
 */
export function imagesToPrune(images: ImageFacts[], opts: { nowMs: number; olderThanMs: number; keep: number }): ImageFacts[] {
  const kept = new Set<string>();
  const byRepo = new Map<string, ImageFacts[]>();
  for (const img of images) {
    const repos = img.repoTags.filter((t) => t !== '<none>:<none>').map(repositoryOf);
    for (const r of new Set(repos)) byRepo.set(r, [...(byRepo.get(r) ?? []), img]);
  }
  for (const list of byRepo.values()) {
    list.sort((a, b) => b.createdMs - a.createdMs);
    for (const img of list.slice(0, opts.keep)) kept.add(img.id);
  }
  return images.filter((img) => !kept.has(img.id) && opts.nowMs - img.createdMs > opts.olderThanMs);
}
