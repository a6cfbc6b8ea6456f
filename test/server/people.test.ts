import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, STORES, testServer } from './harness.ts';
import { TestRepo } from './repo-fixture.ts';

/**
 * Users, roles and tokens, on both stores: a user sees and changes only the repositories they
 * have a role on (read < write < maintain; the admin all), personal tokens expire and may be
 * read-only, revoked ones stop at once, and every state-changing call is in the audit log.
 */
type Problem = { code: string; detail: string; hint: string };

for (const kind of STORES) {
  test(`[${kind}] roles decide who reads and changes a repository; personal tokens expire, read only where asked; the audit log records every change`, { timeout: 60_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const repo = new TestRepo();
    assert.equal((await api(server.url, 'POST', '/api/repos', { url: repo.url })).status, 201);
    const issue = async (name: string, extra: Record<string, unknown> = {}) => (await api<{ token: string; expires_at: string }>(server.url, 'POST', '/api/tokens', { name, ...extra })).body;
    const bob = (await issue('bob')).token;

    // No role: the repository is not listed, and asking for it says who can grant access.
    assert.deepEqual((await api<{ repos: unknown[] }>(server.url, 'GET', '/api/repos', undefined, bob)).body.repos, []);
    const denied = await api<Problem>(server.url, 'GET', '/api/repos/team%2Fapp', undefined, bob);
    assert.deepEqual([denied.status, denied.body.code], [403, 'NESTOR_FORBIDDEN']);
    assert.match(denied.body.hint, /nestor repos members add team\/app bob read/);

    // Read: sees it and its pipelines; running or changing it needs more.
    assert.equal((await api(server.url, 'PUT', '/api/repos/team%2Fapp/members', { user: 'bob', role: 'read' })).status, 200);
    assert.equal((await api(server.url, 'GET', '/api/repos/team%2Fapp', undefined, bob)).status, 200);
    assert.equal((await api<{ repos: unknown[] }>(server.url, 'GET', '/api/repos', undefined, bob)).body.repos.length, 1);
    const run = await api<Problem>(server.url, 'POST', '/api/repos/team%2Fapp/pipelines', {}, bob);
    assert.equal(run.status, 403);
    assert.match(run.body.detail, /needs the write role/);
    assert.equal((await api(server.url, 'PUT', '/api/repos/team%2Fapp/secrets/KEY', { value: 'v-123456' }, bob)).status, 403, 'secrets are for maintainers');
    assert.equal((await api(server.url, 'PUT', '/api/repos/team%2Fapp/members', { user: 'bob', role: 'maintain' }, bob)).status, 403, 'no one grants themselves more');

    // A user who connects a repository maintains it (and a file:// one is the admin's to add: an https one stands in).
    const carol = (await issue('carol')).token;
    const added = await api(server.url, 'POST', '/api/repos', { url: 'https://git.example.com/carol/tool.git' }, carol);
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const members = await api<{ members: { user: string; role: string }[] }>(server.url, 'GET', '/api/repos/carol%2Ftool/members', undefined, carol);
    assert.deepEqual(members.body.members.map((m) => [m.user, m.role]), [['carol', 'maintain']]);
    assert.equal((await api(server.url, 'GET', '/api/repos/carol%2Ftool', undefined, bob)).status, 403);

    // Personal tokens: made by the user, expiring, read-only where asked, listed without their value, revoked at once.
    const personal = await api<{ token: string; scope: string; expires_at: string }>(server.url, 'POST', '/api/me/tokens', { label: 'laptop', scope: 'read', expires_in_days: 30 }, carol);
    assert.equal(personal.status, 201);
    assert.ok(Math.abs(Date.parse(personal.body.expires_at) - (Date.now() + 30 * 86_400_000)) < 60_000);
    const readOnly = personal.body.token;
    assert.equal((await api<{ scope: string }>(server.url, 'GET', '/api/me', undefined, readOnly)).body.scope, 'read');
    assert.equal((await api(server.url, 'GET', '/api/repos/carol%2Ftool', undefined, readOnly)).status, 200);
    const write = await api<Problem>(server.url, 'PATCH', '/api/repos/carol%2Ftool', { default_branch: 'dev' }, readOnly);
    assert.deepEqual([write.status, write.body.code], [403, 'NESTOR_TOKEN_SCOPE']);
    assert.equal((await api(server.url, 'POST', '/api/me/tokens', {}, readOnly)).status, 403, 'a read token makes no token');
    const listed = await api<{ tokens: { id: string; label: string | null; scope: string }[] }>(server.url, 'GET', '/api/me/tokens', undefined, carol);
    assert.equal(JSON.stringify(listed.body).includes(readOnly), false, 'a token is never shown again');
    const laptop = listed.body.tokens.find((t) => t.label === 'laptop')!;
    assert.equal((await api(server.url, 'DELETE', `/api/me/tokens/${laptop.id}`, undefined, carol)).status, 204);
    assert.equal((await api(server.url, 'GET', '/api/me', undefined, readOnly)).status, 401, 'revoked: refused at once');
    const soon = await server.store.addToken('user', 'dave', undefined, { expiresAt: Date.now() + 300 });
    assert.equal((await api(server.url, 'GET', '/api/me', undefined, soon)).status, 200);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await api(server.url, 'GET', '/api/me', undefined, soon)).status, 401, 'expired');

    // The audit log: who changed what, refused attempts too; only the admin reads it.
    assert.equal((await api(server.url, 'GET', '/api/audit', undefined, bob)).status, 403);
    const audit = await api<{ entries: { actor: string; action: string; target: Record<string, string>; status: number }[] }>(server.url, 'GET', '/api/audit?limit=200');
    const has = (actor: string, action: string, status: number) => audit.body.entries.some((e) => e.actor === actor && e.action === action && e.status === status);
    assert.ok(has('admin', 'PUT /api/repos/:repo/members', 200), JSON.stringify(audit.body.entries.slice(0, 5)));
    assert.ok(has('bob', 'POST /api/repos/:repo/pipelines', 403), 'a refused call is recorded too');
    assert.ok(has('carol', 'POST /api/repos', 201));
    assert.ok(has('carol', 'DELETE /api/me/tokens/:id', 204));
    assert.deepEqual(audit.body.entries.find((e) => e.action === 'PUT /api/repos/:repo/secrets/:name')?.target, { repo: 'team/app', name: 'KEY' });
    assert.equal(JSON.stringify(audit.body).includes('v-123456'), false, 'no body is kept: a secret is never in the log');
  });
}
