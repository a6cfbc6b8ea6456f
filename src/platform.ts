import { arch } from 'node:os';

/** Node's names of machine architectures under the names Docker and the CI formats use. */
const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** This machine's platform as Docker, Drone and Woodpecker write it: `linux/amd64`. Nestor's jobs are Linux containers. */
export function hostPlatform(machineArch: string = arch()): string {
  return `linux/${ARCH[machineArch] ?? machineArch}`;
}
