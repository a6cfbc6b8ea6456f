import { patternMatcher } from '../re2.ts';

/**
 * The patterns of GitHub's branch, tag and path filters, which are not the shell's globs:
 * `*` is any characters but `/`, `**` any characters, `?` makes the character before it
 * optional and `+` repeats it (`v[0-9]+.[0-9]+`), `[...]` is a class, `\` escapes. Matched by
 * RE2 (linear time), as Nestor's other patterns are.
 */

export const githubPatternMatches = patternMatcher((pattern) => githubPatternToRE2(pattern));

export function githubPatternToRE2(pattern: string): string {
  let out = '';
  // Whether the last thing written can take a quantifier (a character or a class).
  let quantifiable = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      const double = pattern[i + 1] === '*';
      // `**/` may stand for no directory at all: docs/**/*.md matches docs/README.md.
      if (double && pattern[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += double ? '.*' : '[^/]*';
        if (double) i++;
      }
      quantifiable = false;
    } else if ((c === '?' || c === '+') && quantifiable) {
      out += c;
      quantifiable = false;
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        quantifiable = true;
        continue;
      }
      const inner = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      out += `[${inner.startsWith('!') ? `^${inner.slice(1)}` : inner}]`;
      i = end;
      quantifiable = true;
    } else if (c === '\\' && i + 1 < pattern.length) {
      out += quote(pattern[++i]!);
      quantifiable = true;
    } else {
      out += quote(c);
      quantifiable = true;
    }
  }
  return out;
}

function quote(c: string): string {
  return /[\\^$.|?*+()[\]{}]/.test(c) ? `\\${c}` : c;
}
