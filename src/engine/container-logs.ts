import type Docker from 'dockerode';

/**
 * Splits Docker's multiplexed log stream (8-byte frame headers, used when a container has no
 * TTY) into text. dockerode hands back the raw buffer for non-following reads.
 */
export function demuxLogBuffer(buf: Buffer): { stdout: string; stderr: string; combined: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const all: Buffer[] = [];
  let i = 0;
  const framed = buf.length >= 8 && (buf[0] === 1 || buf[0] === 2) && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!framed) {
    const text = buf.toString('utf8');
    return { stdout: text, stderr: '', combined: text };
  }
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    const size = buf.readUInt32BE(i + 4);
    const chunk = buf.subarray(i + 8, i + 8 + size);
    (kind === 2 ? err : out).push(chunk);
    all.push(chunk);
    i += 8 + size;
  }
  return {
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
    combined: Buffer.concat(all).toString('utf8'),
  };
}

/** The last `lines` lines a container printed, stdout and stderr interleaved. */
export async function containerLogTail(container: Docker.Container, lines = 30): Promise<string> {
  try {
    const raw = (await container.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    return demuxLogBuffer(Buffer.from(raw)).combined.trimEnd();
  } catch (err) {
    return `(log unavailable: ${(err as Error).message})`;
  }
}
