import { patternMatcher } from './re2.ts';

/**
 * Glob patterns (`when: branch`, `paths`, GitLab `changes`) as Drone's, Woodpecker's and
 * GitLab's own matchers read them: `*` and `?` within one path segment, `**` as a whole
 * segment across any number of them, `[abc]`, `[!a-z]`, `{a,b}`, `\` to escape, and a leading
 * `!` to negate. They are translated to RE2 and matched there, never by a backtracking RegExp:
 * `a*a*a*a*b` against a long branch name takes exponential time in one.
 */

/** Whether `value` matches the glob; a glob RE2 cannot read (`[z-a]`) matches only itself. */
export function globMatches(value: string, glob: string): boolean {
  let negations = 0;
  while (glob[negations] === '!' && glob[negations + 1] !== '(') negations++;
  if (negations) return globMatches(value, glob.slice(negations)) !== (negations % 2 === 1);
  // A value that is not known (no branch given) matches no pattern: the condition does not hold.
  if (value === '') return glob === '';
  return matchGlob(value, glob);
}

const matchGlob = patternMatcher((glob) => globToRE2(glob));

/** The RE2 pattern that matches what the glob matches, the whole value. */
export function globToRE2(glob: string): string {
  const bracketEnd = bracketEnds(glob);
  const groups = braces(glob, bracketEnd);
  let i = 0;
  const sequence = (inBrace: boolean): string => {
    let out = '';
    while (i < glob.length) {
      const c = glob[i]!;
      if (inBrace && (c === ',' || c === '}')) return out;
      if (c === '\\' && i + 1 < glob.length) {
        out += quote(glob[i + 1]!);
        i += 2;
      } else if (c === '*') {
        let j = i;
        while (glob[j] === '*') j++;
        const wholeSegment = j - i >= 2 && (i === 0 || glob[i - 1] === '/') && (j === glob.length || glob[j] === '/' || (inBrace && (glob[j] === ',' || glob[j] === '}')));
        if (wholeSegment && glob[j] === '/') {
          out += '(?:.*/)?'; // `**/`: any number of directories, none included
          j++;
        } else if (wholeSegment && out.endsWith('/')) {
          out = `${out.slice(0, -1)}(?:/.*)?`; // `dir/**`: dir itself and everything under it
        } else {
          out += wholeSegment ? '.*' : '[^/]*';
        }
        i = j;
      } else if (c === '?') {
        out += '[^/]';
        i++;
      } else if (c === '[' && bracketEnd(i) > 0) {
        const end = bracketEnd(i);
        out += bracket(glob.slice(i + 1, end));
        i = end + 1;
      } else if (c === '{' && groups.has(i)) {
        // `{a,b}` is an alternation; `{a}` is literal text, its content still a glob.
        const alternatives: string[] = [];
        i++;
        do alternatives.push(sequence(true));
        while (glob[i++] === ',');
        out += alternatives.length > 1 ? `(?:${alternatives.join('|')})` : `\\{${alternatives[0]}\\}`;
      } else {
        out += quote(c);
        i++;
      }
    }
    return out;
  };
  return sequence(false);
}

/**
 * The `{` that have a matching `}`, found in one pass that skips escapes and brackets exactly
 * as the translation does (trying each `{` in turn instead would take exponential time on
 * `{{{{…`). A `}` closes the innermost open `{`; one never closed is a literal.
 */
function braces(glob: string, bracketEnd: (i: number) => number): Set<number> {
  const open: number[] = [];
  const paired = new Set<number>();
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\') i++;
    else if (c === '[' && bracketEnd(i) > 0) i = bracketEnd(i);
    else if (c === '{') open.push(i);
    else if (c === '}' && open.length) paired.add(open.pop()!);
  }
  return paired;
}

/**
 * Where the `]` closing a bracket opened at `i` is, or -1 when that `[` is a literal. Once no
 * `]` closes one, none after it is closed either: remembering that keeps `[[[[…` linear.
 */
function bracketEnds(glob: string): (i: number) => number {
  let unclosedFrom = Infinity;
  return (i) => {
    if (i >= unclosedFrom) return -1;
    let j = i + 1;
    if (glob[j] === '!' || glob[j] === '^') j++;
    if (glob[j] === ']') j++; // `[]a]`: the first `]` is a member
    for (; j < glob.length; j++) {
      if (glob[j] === '\\') j++;
      else if (posixClassEnd(glob, j) > 0) j = posixClassEnd(glob, j) - 1;
      else if (glob[j] === ']') return j;
    }
    unclosedFrom = i;
    return -1;
  };
}

/** A bracket's members as an RE2 class; a negated one never matches `/`, as paths need. */
function bracket(body: string): string {
  const negated = body.startsWith('!') || body.startsWith('^');
  let out = '';
  for (let j = negated ? 1 : 0; j < body.length; j++) {
    const c = body[j]!;
    if (c === '\\' && j + 1 < body.length) out += `\\${body[++j]}`;
    else if (posixClassEnd(body, j) > 0) {
      out += body.slice(j, posixClassEnd(body, j));
      j = posixClassEnd(body, j) - 1;
    } else out += /[\\[\]^]/.test(c) ? `\\${c}` : c;
  }
  return negated ? `[^/${out}]` : `[${out}]`;
}

/** The end (after `:]`) of a POSIX class such as `[:alpha:]` at `j`, or -1; their names are short. */
function posixClassEnd(text: string, j: number): number {
  if (text[j] !== '[' || text[j + 1] !== ':') return -1;
  const m = /^\[:[a-z]{1,8}:\]/.exec(text.slice(j, j + 12));
  return m ? j + m[0].length : -1;
}

function quote(c: string): string {
  return /[\\.+*?()|[\]{}^$]/.test(c) ? `\\${c}` : c;
}
