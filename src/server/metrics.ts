import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './store/store.ts';

/** Prometheus metrics: queue depth, running jobs, runners, job and engine-start durations. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly jobDuration = new Histogram({ name: 'nestor_job_duration_seconds', help: 'Job duration from lease to completion', labelNames: ['status'], buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800], registers: [this.registry] });
  readonly engineStart = new Histogram({ name: 'nestor_engine_start_seconds', help: 'Time to a ready nested engine, as reported by runners', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [this.registry] });
  readonly submitted = new Counter({ name: 'nestor_jobs_submitted_total', help: 'Jobs accepted by the API', registers: [this.registry] });
  readonly requeued = new Counter({ name: 'nestor_jobs_requeued_total', help: 'Jobs put back in the queue after their runner stopped heartbeating', registers: [this.registry] });

  constructor(store: Store, runnerOfflineMs: number) {
    // The event-loop delay monitor samples every 10 ms by default: a hundred wake-ups a second
    // of an idle server. Once a second is enough to see a stalled loop.
    collectDefaultMetrics({ register: this.registry, prefix: 'nestor_', eventLoopMonitoringPrecision: 1000 });
    const jobs = new Gauge({ name: 'nestor_jobs', help: 'Jobs by status', labelNames: ['status'], registers: [this.registry] });
    new Gauge({
      name: 'nestor_queue_depth',
      help: 'Jobs waiting for a runner',
      registers: [this.registry],
      async collect() {
        const counts = await store.countByStatus();
        this.set(counts.queued);
        for (const [status, n] of Object.entries(counts)) jobs.set({ status }, n);
      },
    });
    new Gauge({
      name: 'nestor_jobs_running',
      help: 'Jobs a runner holds a lease on',
      registers: [this.registry],
      async collect() {
        this.set((await store.countByStatus()).running);
      },
    });
    new Gauge({
      name: 'nestor_runners_online',
      help: 'Runners seen within the offline threshold',
      registers: [this.registry],
      async collect() {
        const now = Date.now();
        this.set((await store.runners()).filter((r) => now - r.lastSeen < runnerOfflineMs).length);
      },
    });
  }
}
