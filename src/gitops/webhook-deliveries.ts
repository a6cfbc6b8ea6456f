import type { Database } from '../store/database.ts';

/** How long a delivery is remembered: longer than the forges let one redeliver (GitHub: 3 days). */
export const DELIVERY_WINDOW_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * Webhook deliveries already processed, kept in the store every server shares so that a
 * delivery sent twice (a forge's retry, a "redeliver", or a replay of a captured request)
 * runs once whichever server it reaches. Each delivery is known by several keys (its
 * delivery id, the hash of its signed body): seen under any of them, it was processed.
 */
export class WebhookDeliveries {
  private readonly db: Database;
  private readonly windowMs: number;
  private prunedAt = 0;

  constructor(db: Database, windowMs = DELIVERY_WINDOW_MS) {
    this.db = db;
    this.windowMs = windowMs;
  }

  /**
   * Records the delivery; true when it is new. Of servers claiming the same delivery at once,
   * the primary key lets exactly one insert each key.
   */
  async claim(keys: string[], now = Date.now()): Promise<boolean> {
    await this.prune(now);
    return this.db.transaction(async (tx) => {
      let isNew = true;
      for (const key of keys) {
        const inserted = await tx.query('INSERT INTO webhook_deliveries (key, received_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key', [key, now]);
        if (inserted.length) continue;
        // A key older than the window (not pruned yet) is a new delivery that happens to match.
        const [row] = await tx.query<{ received_at: number }>('SELECT received_at FROM webhook_deliveries WHERE key = $1', [key]);
        if (row && Number(row.received_at) > now - this.windowMs) isNew = false;
        else await tx.query('UPDATE webhook_deliveries SET received_at = $2 WHERE key = $1', [key, now]);
      }
      return isNew;
    });
  }

  private async prune(now: number): Promise<void> {
    if (now - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = now;
    await this.db.query('DELETE FROM webhook_deliveries WHERE received_at <= $1', [now - this.windowMs]);
  }
}
