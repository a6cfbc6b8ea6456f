import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { NestorError } from '../../errors.ts';
import { action } from '../action.ts';
import type { Output } from '../output.ts';
import { call, withServer, type ServerFlags } from '../server-call.ts';

type Target = { name: string; url: string; repos: string[]; branches: string[]; updated_at: string; updated_by: string };

interface TargetFlags extends ServerFlags {
  sshKey?: string;
  knownHosts?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  repo: string[];
  branch: string[];
}

const collect = (v: string, all: string[]) => [...all, v];

function tlsOf(flags: TargetFlags): { ca: string; cert: string; key: string } | undefined {
  const given = [flags.tlsCa, flags.tlsCert, flags.tlsKey].filter((f) => f !== undefined).length;
  if (!given) return undefined;
  if (given < 3) throw new NestorError('NESTOR_USAGE', 'A TLS target needs all three of --tls-ca, --tls-cert and --tls-key', 'Give the ca.pem, cert.pem and key.pem of a DOCKER_CERT_PATH that reaches the engine.');
  return { ca: readFileSync(flags.tlsCa!, 'utf8'), cert: readFileSync(flags.tlsCert!, 'utf8'), key: readFileSync(flags.tlsKey!, 'utf8') };
}

/** nestor targets add|list|rm: the admin's deploy targets, engines of other machines that some repositories' steps may reach. */
export function registerTargetsCommands(program: Command): void {
  const targets = program.command('targets').description('deploy targets: other machines\' Docker engines that steps naming them reach (the admin defines them)');
  withServer(targets.command('add').argument('<name>', 'as steps name it (deploy: NAME, or NESTOR_DEPLOY_TARGET=NAME)').argument('<url>', 'ssh://USER@HOST[:PORT] or tcp://HOST:PORT (TLS)'))
    .option('--ssh-key <file>', 'ssh://: the private key to log in with (its own, never the server\'s)')
    .option('--known-hosts <file>', 'ssh://: the target\'s host key, as known_hosts lines (else it is not checked)')
    .option('--tls-ca <file>', 'tcp://: the engine\'s CA certificate')
    .option('--tls-cert <file>', 'tcp://: the client certificate')
    .option('--tls-key <file>', 'tcp://: the client key')
    .option('--repo <glob>', 'a repository whose pipelines may use it, e.g. team/app or team/* (repeatable, at least one)', collect, [])
    .option('--branch <glob>', 'only pipelines of these branches, e.g. main (repeatable; left out: every branch)', collect, [])
    .description('define a deploy target, or replace one (admin)')
    .action(action(async (out: Output, name: string, url: string, flags: TargetFlags) => {
      const tls = tlsOf(flags);
      const body = { url, repos: flags.repo, branches: flags.branch, ...(flags.sshKey ? { ssh_key: readFileSync(flags.sshKey, 'utf8') } : {}), ...(flags.knownHosts ? { known_hosts: readFileSync(flags.knownHosts, 'utf8') } : {}), ...(tls ? { tls } : {}) };
      const t = await call<Target>(flags, 'PUT', `/api/targets/${encodeURIComponent(name)}`, body);
      out.result(t);
      out.line(`${out.mark(true)} deploy target ${t.name} (${t.url}) for ${describe(t)}; a step reaches it with \`deploy: ${t.name}\` or NESTOR_DEPLOY_TARGET=${t.name}`);
    }));
  withServer(targets.command('list'))
    .description('the deploy targets and who may use them (never their credentials)')
    .action(action(async (out: Output, flags: TargetFlags) => {
      const { targets: list } = await call<{ targets: Target[] }>(flags, 'GET', '/api/targets');
      out.result(list);
      if (!list.length) out.line('no deploy targets; the admin defines one with `nestor targets add NAME ssh://USER@HOST --ssh-key FILE --repo OWNER/NAME`');
      for (const t of list) out.line(`${t.name.padEnd(20)}${t.url.padEnd(36)}${describe(t)}${out.dim(`  set ${t.updated_at} by ${t.updated_by}`)}`);
    }));
  withServer(targets.command('rm').argument('<name>', 'the deploy target'))
    .description('remove a deploy target (admin)')
    .action(action(async (out: Output, name: string, flags: TargetFlags) => {
      await call(flags, 'DELETE', `/api/targets/${encodeURIComponent(name)}`);
      out.result({ removed: name });
      out.line(`${out.mark(true)} deploy target ${name} removed`);
    }));
}

function describe(t: Target): string {
  return `${t.repos.join(', ')}${t.branches.length ? ` on ${t.branches.join(', ')}` : ''}`;
}
