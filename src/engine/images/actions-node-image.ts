import type Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { ACTIONS_NODE_DIR, ACTIONS_NODE_IMAGE } from '../../config.ts';
import { consumeProgress } from '../json-stream.ts';
import { imageExists } from './local-images.ts';
// bootstrap.ts imports this file back; what comes from it is used inside functions only.
import { BootstrapError, importRootfs, sharedLibraries, type Progress } from './bootstrap.ts';

/**
 * The image JavaScript actions get their Node from (ACTIONS_NODE_IMAGE): Nestor's own Node 24
 * binary at ACTIONS_NODE_DIR/bin/node, and the libraries it loads at their own paths, so that
 * it runs in its image too (a job fills a volume from it by running `node -e 0`). In the job
 * container the binary runs on that container's C library, as GitHub's mounted Node does.
 */
export async function ensureActionsNodeImage(docker: Docker, say: Progress = () => {}, force = false, node = process.execPath): Promise<string> {
  const image = ACTIONS_NODE_IMAGE;
  if (!force && (await imageExists(docker, image))) {
    say({ image, phase: 'present' });
    return image;
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (node === process.execPath && major !== 24) throw new BootstrapError(image, `Nestor runs on Node ${process.versions.node}, and JavaScript actions get Node 24`, 'Run the set-up (bash scripts/ensure-env.sh), which installs Node 24 for Nestor.');
  say({ image, phase: 'building', detail: `from ${node}` });
  const tar = pack();
  const dirs = new Set<string>();
  const addFile = (path: string, mode: number) => {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) tar.entry({ name: dir, type: 'directory', mode: 0o755 });
      dirs.add(dir);
    }
    tar.entry({ name: parts.join('/'), mode }, readFileSync(path === `${ACTIONS_NODE_DIR}/bin/node` ? node : path));
  };
  addFile(`${ACTIONS_NODE_DIR}/bin/node`, 0o755);
  for (const lib of sharedLibraries(node)) addFile(lib, 0o755);
  tar.entry({ name: 'tmp', type: 'directory', mode: 0o1777 });
  tar.finalize();
  await consumeProgress(`import of ${image}`, await importRootfs(docker, tar as unknown as Readable, image, [`CMD ["${ACTIONS_NODE_DIR}/bin/node", "-e", "0"]`]));
  say({ image, phase: 'built' });
  return image;
}
