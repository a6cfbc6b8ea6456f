import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { STORES, testServer } from './harness.ts';

/** Ended pipelines and jobs past the retention go with their logs and attempts; running ones and newer ones stay. Both stores. */
for (const kind of STORES) {
  test(`[${kind}] the retention removes ended pipelines and jobs older than it, with their logs, and nothing else`, { timeout: 30_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const { store } = server;
    const old = await store.createJob({ name: 'old', spec: { steps: [{ name: 's', run: 'true' }] } });
    const recent = await store.createJob({ name: 'recent', spec: { steps: [{ name: 's', run: 'true' }] } });
    const pipeline = await store.createPipeline({ name: 'p', spec: {}, jobs: [{ name: 'a', workflow: 'w', needs: [], runWhen: 'on_success' }, { name: 'b', workflow: 'w', needs: ['a'], runWhen: 'on_success' }] });
    const running = await store.createPipeline({ name: 'still', spec: {}, jobs: [{ name: 'a', workflow: 'w', needs: [], runWhen: 'on_success' }] });
    const day = 86_400_000;
    const ended = (id: string, at: number) => store.db.query(`UPDATE jobs SET status = 'succeeded', finished_at = $2 WHERE id = $1 OR pipeline_id = $1`, [id, at]);
    await ended(old.id, Date.now() - 100 * day);
    await ended(recent.id, Date.now() - day);
    await ended(pipeline.id, Date.now() - 100 * day);
    // An old job of a pipeline that has not ended stays with it.
    await store.db.query(`UPDATE jobs SET status = 'succeeded', finished_at = $2 WHERE pipeline_id = $1 AND id <> $1`, [running.id, Date.now() - 100 * day]);
    await store.db.query('INSERT INTO job_logs (job_id, seq, attempt, source, stream, time, text) VALUES ($1, 1, 1, $2, $3, $4, $5)', [old.id, 'step', 'stdout', Date.now(), 'a line']);

    const gone = await store.pruneEnded(Date.now() - 90 * day, 500);
    assert.deepEqual(gone.pipelines, [pipeline.id]);
    assert.equal(gone.jobs, 4, 'the old job, and the pipeline with its two jobs');
    assert.equal(await store.job(old.id), undefined);
    assert.equal(await store.job(pipeline.id), undefined);
    assert.ok(await store.job(recent.id), 'a job inside the retention stays');
    assert.ok(await store.job(running.id), 'a pipeline still running stays, its old jobs with it');
    assert.equal((await store.pipelineJobs(running.id)).length, 1);
    assert.equal((await store.db.query('SELECT job_id FROM job_logs WHERE job_id = $1', [old.id])).length, 0);
    assert.deepEqual(await store.pruneEnded(Date.now() - 90 * day, 500), { pipelines: [], jobs: 0 });
  });
}
