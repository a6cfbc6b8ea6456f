import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { NestorError, errorMessage } from '../../errors.ts';
import { action } from '../action.ts';
import { resolveApp, type AppRef } from '../app-name.ts';
import { EXIT, type Output } from '../output.ts';
import { call, withServer, type ServerFlags } from '../server-call.ts';

type AppFlags = ServerFlags & { namespace?: string };

/** NAMESPACE/NAME, NAME --namespace NAMESPACE, or NAME found in whichever namespace has it. */
function appRef(flags: AppFlags, id: string): Promise<AppRef> {
  return resolveApp(id, flags.namespace, async (name) => (await call<{ apps: AppRef[] }>(flags, 'GET', `/api/apps?name=${encodeURIComponent(name)}`)).apps);
}

function appPath(ref: AppRef): string {
  return `/api/apps/${encodeURIComponent(ref.namespace)}/${encodeURIComponent(ref.name)}`;
}

const show = (ref: AppRef) => `${ref.namespace}/${ref.name}`;

/** The commands that act on one application, found by name; --namespace only when it is ambiguous. */
function forApp(cmd: Command): Command {
  return withServer(cmd.argument('<app>', 'NAME (in any namespace) or NAMESPACE/NAME')).option('--namespace <ns>', 'the application\'s namespace, needed when its name is in several');
}

type DeployedFunction = { path: string; image: string; dockerfile?: string; dockerfile_base?: 'context' | 'source' };
type Deployment = { seq: number; commit: string; status: string; cause: string; created_at: string; error: string | null; message: string; rollback_of: number | null; functions: DeployedFunction[] };

function deploymentLine(out: Output, d: Deployment, current: number | null): string {
  const mark = d.status === 'deployed' ? out.green('deployed') : d.status === 'failed' ? out.red('failed') : out.yellow(d.status);
  const now = d.seq === current ? out.bold(' ← serving') : '';
  const what = d.cause === 'rollback' ? `rollback to #${d.rollback_of}` : d.cause;
  // Which Dockerfile each function was built from: the manifest's `dockerfile` has two readings.
  const built = d.functions
    .filter((f) => f.dockerfile)
    .map((f) => `\n       ${f.path}: ${f.dockerfile}, ${out.dim(f.dockerfile_base === 'source' ? "relative to the application's directory" : 'relative to the context')}`)
    .join('');
  return `#${String(d.seq).padEnd(4)} ${d.created_at.replace('T', ' ').slice(0, 19)}  ${d.commit.slice(0, 8)}  ${mark.padEnd(8)}  ${what}  ${d.message}${now}${d.error ? `\n       ${out.red(d.error.split('\n')[0] ?? '')}` : ''}${built}`;
}

export function registerAppsCommands(program: Command): void {
  const apps = program.command('apps').description('GitOps applications: functions built from Git, deployed with history');

  withServer(apps.command('add').argument('[manifest]', 'a nestor.yaml (or zerverless.yaml) naming the repository (or use --repo)'))
    .description('watch an application\'s repository and deploy its functions')
    .option('--repo <url>', 'repository URL (instead of a manifest file)')
    .option('--name <name>', 'application name (with --repo)')
    .option('--namespace <ns>', 'namespace (with --repo)', 'default')
    .option('--branch <branch>', 'branch to follow (with --repo)', 'main')
    .option('--path <dir>', 'directory of nestor.yaml (or zerverless.yaml) in the repository (with --repo)', '.')
    .option('--poll-interval <s>', 'seconds between checks of the branch', '60')
    .option('--no-auto-sync', 'deploy only on `apps sync` or a webhook')
    .addOption(new Option('--webhook-secret <secret>', 'secret the forge signs webhooks with').env('NESTOR_APP_WEBHOOK_SECRET'))
    .option('--repo-username <user>', 'user name for an https:// repository (with --repo-password-stdin)')
    .option('--repo-password-stdin', 'read the repository password or token from stdin (kept out of the URL and the shell history)')
    .option('--target <docker-host>', 'run the functions on another engine: ssh://user@host or tcp://host:2376')
    .option('--target-cert-path <dir>', 'ca.pem, cert.pem and key.pem for a tcp:// target')
    .action(action(async (out: Output, manifest: string | undefined, flags: ServerFlags & Record<string, string | boolean | undefined>) => {
      const common = {
        poll_interval_s: Number(flags.pollInterval),
        auto_sync: flags.autoSync !== false,
        ...(flags.webhookSecret ? { webhook_secret: flags.webhookSecret } : {}),
        ...(flags.repoPasswordStdin ? { repo_credentials: { username: flags.repoUsername ?? 'git', password: readFileSync(0, 'utf8').trim() } } : {}),
        ...(flags.target ? { target: { host: flags.target, ...(flags.targetCertPath ? { certPath: flags.targetCertPath } : {}) } } : {}),
      };
      let body: Record<string, unknown>;
      if (manifest) body = { manifest: readFileSync(manifest, 'utf8'), manifest_file: basename(manifest), ...common };
      else if (flags.repo && flags.name) body = { name: flags.name, namespace: flags.namespace, repo_url: flags.repo, branch: flags.branch, path: flags.path, ...common };
      else throw new NestorError('NESTOR_USAGE', 'Give a nestor.yaml, or --repo and --name', 'For example: nestor apps add nestor.yaml, or nestor apps add --repo https://git.example.com/team/fns.git --name fns');
      const app = await call(flags, 'POST', '/api/apps', body);
      out.result(app);
      out.line(`${out.mark(true)} ${app.namespace}/${app.name} added: watching ${app.repo_url} (${app.branch}) every ${app.poll_interval_s} s${app.repo_credentials ? ', with its credentials kept apart, sealed' : ''}`);
    }));

  withServer(apps.command('list')).description('applications and what each serves').action(action(async (out: Output, flags: ServerFlags) => {
    const { apps: list } = await call<{ apps: Record<string, unknown>[] }>(flags, 'GET', '/api/apps');
    out.result(list);
    if (!list.length) out.line('no applications; add one with `nestor apps add nestor.yaml`');
    for (const a of list) {
      const state = a.last_error ? out.red(`error: ${String(a.last_error).split('\n')[0]}`) : a.current_deployment ? out.green(`deployment #${a.current_deployment}`) : out.yellow('not deployed yet');
      out.line(`${a.namespace}/${a.name}  ${a.repo_url}@${a.branch}  ${String(a.last_commit ?? '').slice(0, 8) || '-'}  ${state}`);
    }
  }));

  forApp(apps.command('sync'))
    .description('check the branch now and deploy what changed')
    .option('--force', 'build the current commit again even if it was seen (after fixing credentials, say)')
    .action(action(async (out: Output, name: string, flags: AppFlags & { force?: boolean }) => {
    const ref = await appRef(flags, name);
    const id = show(ref);
    const r = await call<{ result: string; error?: string; deployment?: Deployment }>(flags, 'POST', `${appPath(ref)}/sync`, { force: Boolean(flags.force) });
    out.result(r);
    if (r.result === 'unchanged') out.line(`${out.mark(true)} ${id}: unchanged, nothing to build${r.deployment ? `; deployment #${r.deployment.seq} (${r.deployment.status}, ${r.deployment.commit.slice(0, 8)}) is the current one` : ''}`);
    else if (r.result === 'deployed') out.line(`${out.mark(true)} ${id}: deployment #${r.deployment!.seq} serves ${r.deployment!.functions.map((f) => f.path).join(', ')}`);
    else {
      out.line(`${out.mark(false)} ${id}: sync failed${r.deployment ? ` (deployment #${r.deployment.seq}; the previous one still serves)` : ''}\n${r.error ?? ''}`);
      return EXIT.failed;
    }
  }));

  forApp(apps.command('history')).description('every deployment, newest first').action(action(async (out: Output, name: string, flags: AppFlags) => {
    const app = await call<{ current_deployment: number | null; deployments: Deployment[] }>(flags, 'GET', appPath(await appRef(flags, name)));
    out.result(app.deployments);
    for (const d of app.deployments) out.line(deploymentLine(out, d, app.current_deployment));
  }));

  forApp(apps.command('logs')).argument('[seq]', 'deployment number (default: the newest)').description('the build log of a deployment').action(action(async (out: Output, name: string, seq: string | undefined, flags: AppFlags) => {
    const path = appPath(await appRef(flags, name));
    const n = seq ?? String((await call<{ deployments: Deployment[] }>(flags, 'GET', `${path}/deployments`)).deployments[0]?.seq ?? 1);
    const d = await call<Deployment & { build_log: string }>(flags, 'GET', `${path}/deployments/${n}`);
    out.result(d);
    out.line(d.build_log.trimEnd());
  }));

  forApp(apps.command('rollback')).argument('<seq>', 'the deployment to serve again').description('serve an earlier deployment again (kept until the branch moves)').action(action(async (out: Output, name: string, seq: string, flags: AppFlags) => {
    const ref = await appRef(flags, name);
    const d = await call<Deployment>(flags, 'POST', `${appPath(ref)}/rollback`, { to: Number(seq) });
    out.result(d);
    out.line(`${out.mark(true)} ${show(ref)}: deployment #${d.seq} serves the images of #${seq} (${d.commit.slice(0, 8)})`);
  }));

  forApp(apps.command('remove')).description('stop watching and serving an application').action(action(async (out: Output, name: string, flags: AppFlags) => {
    const ref = await appRef(flags, name);
    const id = show(ref);
    await call(flags, 'DELETE', appPath(ref));
    out.result({ removed: id });
    out.line(`${out.mark(true)} ${id} removed`);
  }));

  const registries = program.command('registries').description('credentials for the registries functions are pushed to and pulled from');
  withServer(registries.command('login').argument('<registry>', 'HOST[:PORT]'))
    .requiredOption('--username <user>', 'user name')
    .option('--password-stdin', 'read the password from stdin (keeps it out of the shell history)')
    .action(action(async (out: Output, registry: string, flags: ServerFlags & { username: string; passwordStdin?: boolean }) => {
      const password = flags.passwordStdin ? readFileSync(0, 'utf8').trim() : process.env.NESTOR_REGISTRY_PASSWORD;
      if (!password) throw new NestorError('NESTOR_USAGE', 'No password given', 'Pipe it in with --password-stdin, or set NESTOR_REGISTRY_PASSWORD.');
      await call(flags, 'PUT', `/api/registries/${encodeURIComponent(registry)}`, { username: flags.username, password });
      out.result({ registry });
      out.line(`${out.mark(true)} credentials for ${registry} stored`);
    }));
  withServer(registries.command('import').argument('[config]', 'a Docker config.json', `${process.env.HOME ?? ''}/.docker/config.json`)).action(action(async (out: Output, file: string, flags: ServerFlags) => {
    const r = await call<{ imported: string[] }>(flags, 'POST', '/api/registries/import', { config: readFileSync(file, 'utf8') });
    out.result(r);
    out.line(`${out.mark(true)} imported ${r.imported.join(', ')}`);
  }));
}
