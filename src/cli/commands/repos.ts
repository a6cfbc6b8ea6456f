import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { NestorError } from '../../errors.ts';
import { action } from '../action.ts';
import { countFlag } from '../count-flag.ts';
import type { Output } from '../output.ts';
import { call, withServer, type ServerFlags } from '../server-call.ts';

type Repo = {
  name: string;
  url: string;
  default_branch: string;
  config_path: string | null;
  trusted: boolean;
  timeout_s: number;
  poll_interval_s: number | null;
  auto_cancel: boolean;
  forge: { kind: string; api_url: string; project: string; token: boolean } | null;
  webhook: { path: string; secret?: string; on_forge?: { created: boolean; id?: string; error?: string; hint?: string } };
};

interface RepoFlags extends ServerFlags {
  name?: string;
  branch?: string;
  config?: string;
  trusted?: boolean;
  untrusted?: boolean;
  timeout?: string;
  poll?: string;
  forge?: string;
  forgeUrl?: string;
  forgeProject?: string;
  forgeToken?: string;
  rotateWebhookSecret?: boolean;
  autoCancel?: boolean;
}

const FORGES = ['github', 'gitlab', 'gitea', 'forgejo'];

/** --forge KIND --forge-url API [--forge-project P] [--forge-token T] as the API's `forge`. */
function forgeOf(flags: RepoFlags): Record<string, unknown> | undefined {
  if (!flags.forge && !flags.forgeUrl) return undefined;
  if (!flags.forge || !FORGES.includes(flags.forge)) throw new NestorError('NESTOR_USAGE', `--forge must be one of ${FORGES.join(', ')}`, 'Name the forge the repository is on, with its API URL in --forge-url.');
  if (!flags.forgeUrl) throw new NestorError('NESTOR_USAGE', '--forge needs --forge-url, the forge\'s API (https://api.github.com, https://gitlab.example.com/api/v4, https://gitea.example.com/api/v1)', 'Add --forge-url.');
  return { kind: flags.forge, api_url: flags.forgeUrl, ...(flags.forgeProject ? { project: flags.forgeProject } : {}), ...(flags.forgeToken ? { token: flags.forgeToken } : {}) };
}

function settingsOf(flags: RepoFlags): Record<string, unknown> {
  const forge = forgeOf(flags);
  return {
    ...(flags.branch ? { default_branch: flags.branch } : {}),
    ...(flags.config !== undefined ? { config_path: flags.config || null } : {}),
    ...(flags.trusted ? { trusted: true } : flags.untrusted ? { trusted: false } : {}),
    ...(flags.timeout ? { timeout_s: countFlag(flags.timeout, 60, '--timeout') * 60 } : {}),
    ...(flags.poll !== undefined ? { poll_interval_s: flags.poll === 'off' ? null : countFlag(flags.poll, 60, '--poll', 10) } : {}),
    ...(forge ? { forge } : {}),
    ...(flags.autoCancel !== undefined ? { auto_cancel: flags.autoCancel } : {}),
  };
}

function settingOptions(cmd: Command): Command {
  return cmd
    .option('--branch <name>', 'the default branch')
    .option('--config <path>', 'the pipeline file or folder to read (default: the first of the conventional names that exists; "" for that)')
    .option('--timeout <minutes>', 'how long a job may run')
    .option('--poll <seconds>', 'poll the repository\'s refs this often, for repositories without a webhook ("off" to stop)')
    .option('--forge <kind>', `where statuses go: ${FORGES.join(', ')}`)
    .option('--forge-url <url>', 'the forge\'s API URL')
    .option('--forge-project <owner/name>', 'the project on the forge (default: the repository\'s name)')
    .option('--forge-token <token>', 'a token that may post commit statuses (kept sealed)')
    .option('--auto-cancel', 'a new push to a branch (or pull request) cancels its older pipelines still running')
    .option('--no-auto-cancel', 'older pipelines run on (the files\' own interruptible and cancel-in-progress still apply)');
}

function describe(out: Output, r: Repo): string {
  const flags = [r.trusted ? out.yellow('trusted') : '', r.poll_interval_s ? `polled every ${r.poll_interval_s} s` : '', r.auto_cancel ? 'auto-cancel' : '', r.forge ? `statuses to ${r.forge.kind}${r.forge.token ? '' : out.yellow(' (no token)')}` : ''].filter(Boolean).join(', ');
  return `${out.bold(r.name)}  ${r.url}  ${r.default_branch}  ${r.config_path ?? out.dim('conventional files')}${flags ? `  ${flags}` : ''}`;
}

function webhookLines(out: Output, flags: ServerFlags, r: Repo): void {
  if (!r.webhook.secret) return;
  const onForge = r.webhook.on_forge;
  if (onForge?.created) {
    out.line(`  webhook added on the forge (id ${onForge.id}): pushes, tags and pull requests now reach ${flags.server.replace(/\/+$/, '')}${r.webhook.path}`);
    return;
  }
  if (onForge) out.line(out.yellow(`  the forge refused the webhook: ${onForge.error}; add it by hand:`));
  out.line(`  webhook: ${flags.server.replace(/\/+$/, '')}${r.webhook.path}`);
  out.line(`  secret:  ${r.webhook.secret}  ${out.dim('(shown once: give it to the forge as the webhook\'s secret)')}`);
}

export function registerReposCommands(program: Command): void {
  const repos = program.command('repos').description('repositories whose own pipeline files run on each push, tag and pull request');

  settingOptions(withServer(repos.command('add').argument('<url>', 'https://, ssh:// (a deploy key of its own), or file:// (admins)')))
    .description('connect a repository: its pipelines run on every push, tag and pull request')
    .option('--name <owner/name>', 'its name on this server (default: the last two parts of the URL)')
    .option('--trusted', 'let its jobs ask for privileged steps, host volumes and socket mode (admin only)')
    .option('--ssh-key <file>', 'an ssh:// repository\'s deploy key (its private key; kept sealed, never the server\'s own)')
    .action(action(async (out: Output, url: string, flags: RepoFlags & { sshKey?: string }) => {
      const r = await call<Repo>(flags, 'POST', '/api/repos', { url, ...(flags.name ? { name: flags.name } : {}), ...(flags.sshKey ? { ssh_key: readFileSync(flags.sshKey, 'utf8') } : {}), ...settingsOf(flags) });
      out.result(r);
      out.line(`${out.mark(true)} ${describe(out, r)}`);
      webhookLines(out, flags, r);
    }));

  withServer(repos.command('list')).description('list repositories').action(action(async (out: Output, flags: ServerFlags) => {
    const { repos: list } = await call<{ repos: Repo[] }>(flags, 'GET', '/api/repos');
    out.result(list);
    if (!list.length) out.line('no repositories; connect one with `nestor repos add URL`');
    for (const r of list) out.line(describe(out, r));
  }));

  withServer(repos.command('show').argument('<repo>', 'owner/name')).description('a repository\'s settings').action(action(async (out: Output, name: string, flags: ServerFlags) => {
    const r = await call<Repo>(flags, 'GET', `/api/repos/${encodeURIComponent(name)}`);
    out.result(r);
    out.line(describe(out, r));
    out.line(`  webhook: ${flags.server.replace(/\/+$/, '')}${r.webhook.path}`);
    out.line(`  timeout: ${r.timeout_s / 60} min`);
  }));

  settingOptions(withServer(repos.command('update').argument('<repo>', 'owner/name')))
    .description('change a repository\'s settings')
    .option('--trusted', 'mark it trusted (admin only)')
    .option('--untrusted', 'mark it untrusted')
    .option('--rotate-webhook-secret', 'make a new webhook secret (shown once)')
    .action(action(async (out: Output, name: string, flags: RepoFlags) => {
      const body = { ...settingsOf(flags), ...(flags.rotateWebhookSecret ? { rotate_webhook_secret: true } : {}) };
      if (!Object.keys(body).length) throw new NestorError('NESTOR_USAGE', 'Nothing to change', 'Give a setting to change, e.g. --branch main or --poll 60 (see `nestor repos update --help`).');
      const r = await call<Repo>(flags, 'PATCH', `/api/repos/${encodeURIComponent(name)}`, body);
      out.result(r);
      out.line(`${out.mark(true)} ${describe(out, r)}`);
      webhookLines(out, flags, r);
    }));

  withServer(repos.command('remove').argument('<repo>', 'owner/name')).description('disconnect a repository (its pipelines stay in the history)').action(action(async (out: Output, name: string, flags: ServerFlags) => {
    await call(flags, 'DELETE', `/api/repos/${encodeURIComponent(name)}`);
    out.result({ removed: name });
    out.line(`${out.mark(true)} ${name} removed`);
  }));

  const members = repos.command('members').description('who may read, write (run, cancel, restart, approve) or maintain a repository');
  withServer(members.command('list').argument('<repo>', 'owner/name')).description('the repository\'s members and their roles').action(action(async (out: Output, repo: string, flags: ServerFlags) => {
    const { members: list } = await call<{ members: { user: string; role: string; granted_by: string; granted_at: string }[] }>(flags, 'GET', `/api/repos/${encodeURIComponent(repo)}/members`);
    out.result(list);
    if (!list.length) out.line(`no members: only the server's admin may act on ${repo}; add one with \`nestor repos members add ${repo} USER read\``);
    for (const m of list) out.line(`${m.user.padEnd(24)} ${m.role.padEnd(9)} ${out.dim(`by ${m.granted_by} ${m.granted_at}`)}`);
  }));
  withServer(members.command('add').argument('<repo>', 'owner/name').argument('<user>', 'the user (as their token names them)').argument('<role>', 'read, write or maintain'))
    .description('give a user a role on the repository (or change theirs)')
    .action(action(async (out: Output, repo: string, user: string, role: string, flags: ServerFlags) => {
      const r = await call(flags, 'PUT', `/api/repos/${encodeURIComponent(repo)}/members`, { user, role });
      out.result(r);
      out.line(`${out.mark(true)} ${user} may ${role} ${repo}`);
    }));
  withServer(members.command('rm').argument('<repo>', 'owner/name').argument('<user>', 'the user')).description('take a user\'s role away').action(action(async (out: Output, repo: string, user: string, flags: ServerFlags) => {
    await call(flags, 'DELETE', `/api/repos/${encodeURIComponent(repo)}/members/${encodeURIComponent(user)}`);
    out.result({ removed: user });
    out.line(`${out.mark(true)} ${user} has no role on ${repo} now`);
  }));

  const cron = repos.command('cron').description('a repository\'s cron schedules: a branch\'s pipeline at set times (UTC)');
  withServer(cron.command('add').argument('<repo>', 'owner/name').argument('<name>', 'the schedule\'s name (what `when: cron:` matches)').argument('<cron>', 'five fields, e.g. "0 3 * * *"'))
    .option('--branch <name>', 'the branch to run (default: the repository\'s default branch)')
    .description('add or replace a schedule')
    .action(action(async (out: Output, repo: string, name: string, expr: string, flags: ServerFlags & { branch?: string }) => {
      const c = await call<{ name: string; cron: string; branch: string; next_run_at: string }>(flags, 'POST', `/api/repos/${encodeURIComponent(repo)}/crons`, { name, cron: expr, ...(flags.branch ? { branch: flags.branch } : {}) });
      out.result(c);
      out.line(`${out.mark(true)} ${repo} ${c.name}: ${c.cron} on ${c.branch}, next ${c.next_run_at}`);
    }));
  withServer(cron.command('list').argument('<repo>', 'owner/name')).description('the schedules, the repository\'s own and its files\'').action(action(async (out: Output, repo: string, flags: ServerFlags) => {
    const { crons } = await call<{ crons: { name: string; cron: string; branch: string; source: string; next_run_at: string; last_run_at: string | null }[] }>(flags, 'GET', `/api/repos/${encodeURIComponent(repo)}/crons`);
    out.result(crons);
    if (!crons.length) out.line(`no schedules; add one with \`nestor repos cron add ${repo} nightly "0 3 * * *"\``);
    for (const c of crons) out.line(`${c.name.padEnd(24)} ${c.cron.padEnd(16)} ${c.branch.padEnd(12)} next ${c.next_run_at}${c.source === 'file' ? out.dim('  (from the files)') : ''}`);
  }));
  withServer(cron.command('rm').argument('<repo>', 'owner/name').argument('<name>', 'the schedule')).description('remove a schedule').action(action(async (out: Output, repo: string, name: string, flags: ServerFlags) => {
    await call(flags, 'DELETE', `/api/repos/${encodeURIComponent(repo)}/crons/${encodeURIComponent(name)}`);
    out.result({ removed: name });
    out.line(`${out.mark(true)} ${repo} ${name} removed`);
  }));
}
