import type { Command } from 'commander';
import { debianMirror } from '../../config.ts';
import { bootstrapImages, type BootstrapEvent } from '../../engine/images/bootstrap.ts';
import { ImageSupply } from '../../engine/images/supply.ts';
import { action, hostEngine } from '../action.ts';

export function registerImagesCommands(program: Command): void {
  const images = program.command('images').description('Images for nested engines');

  images
    .command('bootstrap')
    .option('--without-dind', 'do not make the DinD image (the slow one)')
    .option('--without-runner', 'do not make the image GitHub-style jobs run in (slow too)')
    .option('--force', 'build the local images again even when present')
    .option('--json', 'machine-readable output')
    .description('Pull, or build locally where nothing can be pulled, the base, registry, DinD and GitHub runner images')
    .action(action(async (out, flags: { withoutDind?: boolean; withoutRunner?: boolean; force?: boolean }) => {
      const host = await hostEngine();
      const started = Date.now();
      const show = (e: BootstrapEvent) => {
        const text: Record<BootstrapEvent['phase'], string> = {
          present: `${e.image}: present`,
          pulling: `${e.image}: pulling …`,
          pulled: `${e.image}: pulled`,
          building: `${e.image}: building ${e.detail ?? ''} …`,
          progress: `${e.image}: ${e.detail ?? ''}`,
          built: `${e.image}: built (${Math.round((Date.now() - started) / 1000)} s)`,
        };
        out.progress(text[e.phase]);
      };
      const mirror = debianMirror(process.env);
      const result = await bootstrapImages(host.docker, { onProgress: show, withoutDind: Boolean(flags.withoutDind), withoutRunner: Boolean(flags.withoutRunner), force: Boolean(flags.force), ...(mirror ? { debianMirror: mirror } : {}) });
      out.result(result);
      out.line(`${out.mark(true)} images ready: base ${result.base}, registry ${result.registry}${result.dind ? `, dind ${result.dind}` : ''}${result.runner ? `, runner ${result.runner}, actions' Node ${result.actionsNode}` : ''}`);
      return 0;
    }));

  images
    .command('preload')
    .argument('<images...>', 'host images to copy into the shared cache')
    .option('--json', 'machine-readable output')
    .description('Copy images the host engine has into the registry every nested engine pulls from')
    .action(action(async (out, names: string[]) => {
      const host = await hostEngine();
      const supply = await ImageSupply.start(host);
      try {
        await supply.preload(names);
        out.result({ preloaded: names, registry: supply.registry.url });
        out.line(`${out.mark(true)} in the shared cache: ${names.join(', ')}`);
        return 0;
      } finally {
        await supply.close();
      }
    }));
}
