import { z } from 'zod';

/**
 * What `nestor jobs shell` sends over its WebSocket, from the CLI through the server to the
 * job's runner and back (the server passes frames on as they are).
 *
 * Binary frames carry the terminal: a first byte naming the channel (as Kubernetes' exec
 * channels do), then the bytes. Text frames carry one JSON control message each.
 */
export const SHELL_STDIN = 0;
export const SHELL_STDOUT = 1;
export const SHELL_STDERR = 2;

export const shellControl = z.discriminatedUnion('type', [
  /** CLI → runner: the terminal's size changed. */
  z.strictObject({ type: z.literal('resize'), cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) }),
  /** CLI → runner: standard input ended (a piped script). */
  z.strictObject({ type: z.literal('eof') }),
  /** → CLI: where the session stands (waiting for the runner). */
  z.strictObject({ type: z.literal('status'), text: z.string() }),
  /** Runner → CLI: the shell runs, in this step. */
  z.strictObject({ type: z.literal('started'), step: z.string() }),
  /** Runner → CLI: the shell ended with this code (null: not known). */
  z.strictObject({ type: z.literal('exit'), code: z.number().int().nullable() }),
  /** → CLI: no shell, and why. */
  z.strictObject({ type: z.literal('error'), code: z.string(), message: z.string(), hint: z.string() }),
]);
export type ShellControl = z.infer<typeof shellControl>;

/** A session the server offers a runner in its job's heartbeat answer. */
export const shellOffer = z.strictObject({
  id: z.string(),
  step: z.string().optional(),
  command: z.array(z.string()),
  tty: z.boolean(),
  cols: z.number().int().optional(),
  rows: z.number().int().optional(),
});
export type ShellOffer = z.infer<typeof shellOffer>;

/** A control message, or undefined for one that is not (a peer of another version). */
export function readControl(text: string): ShellControl | undefined {
  try {
    const parsed = shellControl.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A binary frame of `channel`. */
export function shellFrame(channel: number, data: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(data.length + 1);
  frame[0] = channel;
  frame.set(data, 1);
  return frame;
}
