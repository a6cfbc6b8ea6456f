import type { Command } from 'commander';
import { NestorError } from '../../errors.ts';
import { prune } from '../../engine/prune.ts';
import { parseDuration } from '../../engine/prune-plan.ts';
import { action, hostEngine } from '../action.ts';

export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description('Remove Nestor\'s stopped containers, unused networks and volumes, and old images')
    .option('--until <age>', 'only what is older than this (e.g. 24h, 7d)', '24h')
    .option('--keep <n>', 'images to keep per repository, newest first', '3')
    .option('--dry-run', 'list what would be removed')
    .option('--all', 'also objects Nestor did not create')
    .option('--json', 'machine-readable output')
    .action(action(async (out, flags: { until: string; keep: string; dryRun?: boolean; all?: boolean }) => {
      let olderThanMs: number;
      try {
        olderThanMs = parseDuration(flags.until);
      } catch (err) {
        throw new NestorError('NESTOR_BAD_OPTION', (err as Error).message, 'Pass --until with a unit, e.g. --until 24h.');
      }
      const keep = Number(flags.keep);
      if (!Number.isInteger(keep) || keep < 0) throw new NestorError('NESTOR_BAD_OPTION', `--keep must be a whole number, not ${flags.keep}`, 'Pass e.g. --keep 3.');
      const host = await hostEngine();
      const report = await prune(host.docker, { olderThanMs, keep, dryRun: Boolean(flags.dryRun), all: Boolean(flags.all) });
      out.result(report);
      const verb = flags.dryRun ? 'would remove' : 'removed';
      out.line(`${verb} ${report.containers.length} container(s), ${report.networks.length} network(s), ${report.volumes.length} volume(s), ${report.images.length} image(s)`);
      for (const kind of ['containers', 'networks', 'volumes', 'images'] as const) for (const n of report[kind]) out.line(out.dim(`  ${kind.slice(0, -1)} ${n}`));
      for (const s of report.skipped) out.line(out.yellow(`  kept ${s.what}: ${s.why}`));
      return 0;
    }));
}
