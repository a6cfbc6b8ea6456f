import { NestorError, errorMessage } from '../errors.ts';

/** Exit codes that mean something to scripts. */
export const EXIT = { ok: 0, failed: 1, usage: 2, engineUnreachable: 3 } as const;

/**
 * Everything the CLI shows goes through here: colour only on a TTY (and never with NO_COLOR),
 * progress on stderr so stdout stays clean for `--json` and pipes.
 */
export class Output {
  readonly json: boolean;
  private readonly colour: boolean;

  constructor(opts: { json?: boolean } = {}) {
    this.json = Boolean(opts.json);
    this.colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && !this.json;
  }

  private paint(code: string, text: string): string {
    return this.colour ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  green = (t: string) => this.paint('32', t);
  red = (t: string) => this.paint('31', t);
  yellow = (t: string) => this.paint('33', t);
  dim = (t: string) => this.paint('2', t);
  bold = (t: string) => this.paint('1', t);

  /** A line for people; suppressed in --json mode. */
  line(text = ''): void {
    if (!this.json) process.stdout.write(`${text}\n`);
  }

  /** Progress on long work: always to stderr, so it never mixes with results. */
  progress(text: string): void {
    const dim = Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;
    process.stderr.write(dim ? `\x1b[2m${text}\x1b[0m\n` : `${text}\n`);
  }

  result(value: unknown): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  mark(ok: boolean, warn = false): string {
    return ok ? this.green('✔') : warn ? this.yellow('!') : this.red('✘');
  }

  error(err: unknown): number {
    const nestor = err instanceof NestorError ? err : undefined;
    if (this.json) {
      // One line, so that commands printing JSON lines (`nestor run --json`) stay parseable.
      process.stdout.write(`${JSON.stringify({ type: 'error', ...(nestor ? nestor.toJSON() : { error: 'NESTOR_INTERNAL', message: errorMessage(err) }) })}\n`);
    } else if (nestor) {
      // Several problems (a pipeline file's): a count, then one `file:line:column: message` a
      // line, as a compiler prints them, so editors and terminals can jump to each.
      const lines = nestor.message.split('\n');
      const problems = (nestor as { problems?: unknown[] }).problems;
      const head = Array.isArray(problems) && problems.length > 1 ? `${problems.length} problems:\n${lines.map((l) => `  ${l}`).join('\n')}` : nestor.message;
      process.stderr.write(`${this.red('error')} ${head}\n  ${this.bold('→')} ${nestor.hint}\n  ${this.dim(`(${nestor.code})`)}\n`);
    } else {
      process.stderr.write(`${this.red('error')} ${errorMessage(err)}\n`);
      if (process.env.NESTOR_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    }
    if (nestor?.code === 'NESTOR_ENGINE_UNREACHABLE') return EXIT.engineUnreachable;
    // A file or flag that cannot be used: the user's input, not the run, is at fault (also a
    // name that fits several applications: the command needs --namespace, nothing was tried).
    if (nestor && /^NESTOR_(PIPELINE_|USAGE|APP_AMBIGUOUS)/.test(nestor.code)) return EXIT.usage;
    return EXIT.failed;
  }
}
