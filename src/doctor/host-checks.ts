import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { errorMessage } from '../errors.ts';
import { fail, pass, warn, type Check } from './check.ts';
import { uplinkMtu } from '../engine/host-network.ts';

const exec = promisify(execFile);

async function output(cmd: string, args: string[]): Promise<string> {
  const { stdout, stderr } = await exec(cmd, args, { timeout: 10_000 });
  return `${stdout}${stderr}`.trim();
}

export const socketPermissions: Check = {
  id: 'socket-permissions',
  title: 'Docker socket permissions',
  needsDaemon: false,
  async run({ host }) {
    if (host.endpoint.kind !== 'unix') return pass(`not a Unix socket (${host.address})`);
    const path = host.endpoint.socketPath;
    try {
      const st = statSync(path);
      accessSync(path, constants.R_OK | constants.W_OK);
      return pass(`${path} mode ${(st.mode & 0o777).toString(8)}, owner ${st.uid}:${st.gid}, usable by this user`);
    } catch (err) {
      return fail(`${path}: ${errorMessage(err)}`);
    }
  },
};

export const composeAvailable: Check = {
  id: 'compose',
  title: 'Docker Compose available',
  needsDaemon: false,
  async run() {
    for (const [cmd, args] of [
      ['docker', ['compose', 'version']],
      ['docker-compose', ['version', '--short']],
    ] as const) {
      try {
        return pass(`${cmd} ${args[0]}: ${(await output(cmd, [...args])).split('\n')[0]}`);
      } catch {
        /* try the next form */
      }
    }
    return warn('neither `docker compose` nor `docker-compose` is installed', 'apt-get install -y docker-compose (or the compose plugin) for steps that use Compose.');
  },
};

export const iptablesFlavour: Check = {
  id: 'iptables',
  title: 'iptables flavour',
  needsDaemon: false,
  async run() {
    let version: string;
    try {
      version = await output('iptables', ['--version']);
    } catch (err) {
      return fail(`iptables: not found (${errorMessage(err)})`, { fix: 'apt-get install -y iptables' });
    }
    const flavour = /nf_tables/.test(version) ? 'nf_tables' : /legacy/.test(version) ? 'legacy' : 'unknown';
    try {
      await output('iptables', ['-t', 'nat', '-L', '-n']);
    } catch (err) {
      return fail(`${version}: ${errorMessage(err)}`);
    }
    return pass(`${version} (${flavour}); the nat table answers`);
  },
};

export const bridgeMtu: Check = {
  id: 'mtu',
  title: 'Bridge MTU against the host uplink',
  needsDaemon: true,
  async run({ host }) {
    const bridge = await host.docker.getNetwork('bridge').inspect().catch(() => undefined);
    const bridgeMtu = Number(bridge?.Options?.['com.docker.network.driver.mtu'] ?? 1500);
    const uplink = uplinkMtu();
    if (!uplink) return warn(`bridge MTU ${bridgeMtu}; no default route found to compare with`);
    if (bridgeMtu > uplink.mtu) return fail(`bridge MTU ${bridgeMtu} is larger than the host uplink MTU ${uplink.mtu} (${uplink.iface})`);
    return pass(`bridge MTU ${bridgeMtu} ≤ uplink ${uplink.iface} MTU ${uplink.mtu}`);
  },
};

export const tlsMaterial: Check = {
  id: 'tls',
  title: 'TLS material and expiry',
  needsDaemon: false,
  async run({ host }) {
    if (host.endpoint.kind === 'tcp') {
      return fail(`${host.address} is plain TCP: anyone who reaches the port owns the host`, {
        cause: 'The engine listens on TCP without TLS.',
        fix: 'Serve the engine with --tlsverify and set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH.',
      });
    }
    if (host.endpoint.kind !== 'tls') return pass(`${host.address} needs no TLS (local socket or SSH)`);
    const cert = new X509Certificate(host.endpoint.tls.cert);
    const ca = new X509Certificate(host.endpoint.tls.ca);
    if (!cert.verify(ca.publicKey)) return fail('x509: the client certificate was not issued by ca.pem');
    const daysLeft = Math.floor((Date.parse(cert.validTo) - Date.now()) / 86_400_000);
    if (daysLeft < 0) return fail(`x509: certificate has expired (${cert.validTo})`);
    if (daysLeft < 14) return warn(`client certificate expires in ${daysLeft} days (${cert.validTo})`, 'Issue new certificates before they expire.');
    return pass(`client certificate from ${ca.subject.replace(/\n/g, ', ')} valid for ${daysLeft} more days`);
  },
};

export const hostChecks = [socketPermissions, tlsMaterial, iptablesFlavour, composeAvailable, bridgeMtu];
