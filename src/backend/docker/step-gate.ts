import { randomBytes } from 'node:crypto';

/**
 * A gated step container is created and started before its step may run: its shell waits on
 * stdin for the step's code and runs it only when Nestor writes it. Starting a container in a
 * nested engine takes ~180 ms of runc and shim work; done ahead (while earlier steps run, or
 * when a warm engine is made) a step then starts in about a millisecond.
 *
 * The gate reads lines up to a terminator (the token, passed as $0) and evaluates them. With
 * no terminator (stdin closed: the step will not run) it exits 0 having run nothing. After the
 * step's own shell it prints `\n<token>:<status>` on stdout and on stderr, so the runner knows
 * the status as soon as both streams are read to that point, without waiting ~60 ms for the
 * engine to report the container's exit. Plain POSIX sh, no other tool: it runs in any image
 * a `commands` step can run in.
 */
const GATE = [
  'n=; while IFS= read -r l; do [ "$l" = "$0" ] && break; n="$n$l',
  '"; done',
  '[ "$l" = "$0" ] || exit 0',
  'unset l',
  'eval "$n"',
].join('\n');

/** The entrypoint of a gated container; `token` is this container's own. */
export function gateEntrypoint(token: string): string[] {
  return ['/bin/sh', '-c', GATE, token];
}

export function newGateToken(): string {
  return `nestor-${randomBytes(12).toString('hex')}`;
}

export interface GateRelease {
  token: string;
  script: string;
  /** Set by the released code itself (a pre-started slot made before the step was known). */
  environment?: Record<string, string>;
  workingDir?: string;
}

/** Whether a variable can be set by `export` in sh (slots can carry only such names). */
export function exportable(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** Single-quoted for sh: any byte string, newlines included. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** What is written to a gate to run a step; ends with the terminator line. */
export function releaseText(r: GateRelease): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(r.environment ?? {})) {
    if (!exportable(k)) throw new Error(`${k} cannot be exported by a shell`);
    lines.push(`export ${k}=${shellQuote(v)}`);
  }
  if (r.workingDir) lines.push(`mkdir -p ${shellQuote(r.workingDir)} && cd ${shellQuote(r.workingDir)} || exit 1`);
  lines.push(
    `/bin/sh -c ${shellQuote(r.script)}`,
    's=$?',
    `printf '\\n%s:%s\\n' ${shellQuote(r.token)} "$s"`,
    `printf '\\n%s:%s\\n' ${shellQuote(r.token)} "$s" >&2`,
    'exit "$s"',
    r.token,
  );
  return `${lines.join('\n')}\n`;
}
