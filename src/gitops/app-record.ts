import { redactSecrets } from '../secrets/redact.ts';
import type { AppRecord } from './store.ts';
import type { RepoSource } from './repo-url.ts';
import type { DeployTarget } from './targets.ts';

/** What a stored application says, read the way every part of the controller needs it. */

export function targetOf(app: AppRecord): DeployTarget | null {
  return app.target ? (JSON.parse(app.target) as DeployTarget) : null;
}

export function sourceOf(app: AppRecord): RepoSource {
  return { url: app.repoUrl, credential: app.repoCredential };
}

/** Text about an application with its secrets taken out, for errors, build logs and the server log. */
export function redactFor(app: Pick<AppRecord, 'repoCredential' | 'webhookSecret'>, text: string): string {
  return redactSecrets(text, [app.repoCredential?.password, app.repoCredential?.username, app.webhookSecret]);
}
