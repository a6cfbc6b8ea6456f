import { arch, hostname } from 'node:os';
import { hostPlatform } from '../platform.ts';

/**
 * The labels every runner has, as Woodpecker's agents have them: `platform=linux/ARCH` of its
 * machine (what Woodpecker's labels.platform and Drone's platform.arch ask for), `backend=docker`
 * and `hostname=`; and `docker` and `linux`, the tags GitLab files most give their jobs for a
 * Docker runner on Linux. The operator's own labels come after and win for the same key.
 */
export function runnerLabels(given: string[], machine = { arch: arch(), hostname: hostname() }): string[] {
  const own = new Map<string, string>();
  const add = (label: string) => own.set(label.includes('=') ? label.slice(0, label.indexOf('=')) : label, label);
  [`platform=${hostPlatform(machine.arch)}`, 'backend=docker', `hostname=${machine.hostname}`, 'docker', 'linux', ...given].forEach(add);
  return [...own.values()];
}
