import type { Command } from 'commander'; export function registerDoctorCommand(_p: Command): void {}
