import type { Command } from 'commander';
import { connect } from '../../engine/engine-client.ts';
import { endpointFromEnv, parseDockerHost } from '../../engine/docker-host.ts';
import { runDoctor } from '../../doctor/doctor.ts';
import type { CheckResult } from '../../doctor/check.ts';
import { action } from '../action.ts';
import type { Output } from '../output.ts';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check a Docker / DinD environment end to end and name the fix for each failure')
    .option('--host <url>', 'engine to check (default: DOCKER_HOST or the local socket)')
    .option('--json', 'machine-readable output')
    .action(action(async (out, flags: { host?: string }) => {
      const host = connect(flags.host ? parseDockerHost(flags.host, process.env) : endpointFromEnv(process.env));
      out.line(`Checking ${host.address}`);
      const report = await runDoctor(host, { onResult: (r) => show(out, r), env: process.env });
      out.result(report);
      const failed = report.checks.filter((c) => c.status === 'fail').length;
      out.line(failed ? out.red(`${failed} check(s) failed`) : out.green('all checks passed'));
      return report.ok ? 0 : 1;
    }));
}

function show(out: Output, r: CheckResult): void {
  const mark = r.status === 'pass' ? out.mark(true) : r.status === 'warn' ? out.mark(false, true) : r.status === 'fail' ? out.mark(false) : out.dim('-');
  out.line(`${mark} ${r.title}: ${r.detail} ${out.dim(`(${r.durationMs} ms)`)}`);
  if (r.cause) out.line(`    cause: ${r.cause}`);
  if (r.fix) out.line(`    fix:   ${r.fix}`);
}
