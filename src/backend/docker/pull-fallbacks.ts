/**
 * Why pulls in a job engine went past Nestor's image cache.
 *
 * A nested dockerd asks its registry mirror (the image cache) first and then the image's own
 * registry, and answers the client with the last error only: on a machine without internet,
 * a DNS error for Docker Hub, whatever the cache said. Its log keeps each endpoint's error.
 */
const NEXT_ENDPOINT = /^time="([^"]+)".*\bmsg="Attempting next endpoint for pull after error: (.*)"\s*$/;

/** The distinct errors after which dockerd moved on to the next registry, logged since `sinceMs`. */
export function pullFallbacks(daemonLog: string, sinceMs: number): string[] {
  const reasons = new Set<string>();
  for (const line of daemonLog.split('\n')) {
    const m = NEXT_ENDPOINT.exec(line.trim());
    if (!m || Date.parse(m[1]!) < sinceMs) continue;
    reasons.add(m[2]!.replace(/\\"/g, '"'));
  }
  return [...reasons];
}

/** A notice for a failed job whose engine's pulls fell through, or none when none did. */
export async function pullFallbackNotices(engine: { logTail(lines: number): Promise<string> }, sinceMs: number): Promise<string[]> {
  const reasons = pullFallbacks(await engine.logTail(300), sinceMs);
  if (!reasons.length) return [];
  return [
    `a pull in the job engine went past the image cache; its dockerd says, in order: ${reasons.join(' | ')}. ` +
      'The cache serves images the host engine has: `docker pull` or `docker load` the image on the host, or `nestor images preload IMAGE`.',
  ];
}
