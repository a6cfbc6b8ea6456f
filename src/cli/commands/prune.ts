import type { Command } from 'commander'; export function registerPruneCommand(_p: Command): void {}
