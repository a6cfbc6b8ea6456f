import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { Option, type Command } from 'commander';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogFlags {
  logLevel: LogLevel;
  logFormat: LogFormat;
}

/** `--log-level` / NESTOR_LOG_LEVEL and `--log-format` / NESTOR_LOG_FORMAT, for the long-running commands. */
export function withLogOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-level <level>', 'least severe log level shown').choices([...LOG_LEVELS]).default('info').env('NESTOR_LOG_LEVEL'))
    .addOption(new Option('--log-format <format>', 'readable lines, or JSON for log collectors (auto: readable on a terminal)').choices([...LOG_FORMATS]).default('auto').env('NESTOR_LOG_FORMAT'));
}

/**
 * The one logger of a process, on stdout (progress and prompts go to stderr). People at a
 * terminal get readable coloured lines; anything else (a file, journald, a collector) gets one JSON object per line. Pretty-printing runs in this
 * thread (no worker) so that the last lines before an exit are never lost.
 */
export function makeLogger(flags: Partial<LogFlags>, fd: 1 | 2 = 1): Logger {
  const level = flags.logLevel ?? 'info';
  const format = flags.logFormat ?? 'auto';
  const tty = Boolean((fd === 1 ? process.stdout : process.stderr).isTTY);
  const readable = format === 'pretty' || (format === 'auto' && tty);
  if (!readable) return pino({ name: 'nestor', level }, pino.destination({ fd, sync: true }));
  const colour = tty && !process.env.NO_COLOR;
  return pino({ name: 'nestor', level }, pretty({ destination: fd, sync: true, colorize: colour, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss' }));
}
