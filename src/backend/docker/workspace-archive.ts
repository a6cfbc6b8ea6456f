import { posix } from 'node:path';
import { WorkspacePathMissingError } from '../errors.ts';
import { joinArchives } from '../../engine/archive.ts';
import { nestorLabels } from '../../engine/labels.ts';
import type { JobContext } from './job-context.ts';
import { PROBE_IMAGE } from './services.ts';


/**
 * One tar stream of `paths` of the workspace (relative to it), each entry named by its path in
 * the workspace, read through a container that is never started. The engine answers each path
 * as its own archive rooted at the path's last name; they are joined under their directories.
 */
export async function readWorkspace(ctx: JobContext, workspace: string, image: string | undefined, paths: string[]): Promise<AsyncIterable<Uint8Array>> {
  const holder = await ctx.docker.createContainer({
    Image: image ?? PROBE_IMAGE,
    Labels: nestorLabels('workspace', ctx.labels),
    HostConfig: { Binds: [`${ctx.workspaceVolume}:${workspace}`], NetworkMode: 'none' },
  });
  const remove = () => holder.remove({ force: true }).catch(() => undefined);
  try {
    const archives: { dir: string; stream: NodeJS.ReadableStream }[] = [];
    for (const path of paths) {
      const rel = posix.normalize(path).replace(/^(\.\/)+|\/+$/g, '');
      if (rel.startsWith('..') || posix.isAbsolute(rel)) throw new WorkspacePathMissingError(path, 'it is outside the workspace');
      // The workspace itself is read as `WORKSPACE/.`, so that its entries are named from it
      // (`./report.xml`) rather than under its own folder's name (`project/report.xml`).
      const stream = await holder.getArchive({ path: rel === '.' ? `${workspace.replace(/\/+$/, '')}/.` : posix.join(workspace, rel) }).catch((err: { statusCode?: number; message?: string }) => {
        throw new WorkspacePathMissingError(path, err.statusCode === 404 ? 'no such file or directory' : String(err.message));
      });
      archives.push({ dir: posix.dirname(rel), stream });
    }
    return joinArchives(archives.map((a) => () => a.stream), { under: (i) => archives[i]!.dir, done: remove });
  } catch (err) {
    await remove();
    throw err;
  }
}
