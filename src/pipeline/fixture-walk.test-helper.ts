import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import assert from 'node:assert/strict';
import { PipelineError, type PipelineNotice } from './errors.ts';
import type { JobPlan, PlanStep } from './plan.ts';
import { YamlSource } from './yaml-source.ts';

/**
 * For the fixture tests of the Drone and Woodpecker readers: every key a pipeline file writes
 * must be one its reader reads, or one a notice names (at that key or above it). A key that is
 * neither was dropped without a word, which the formats' readers promise never to do.
 */

/** One YAML document of a file, as plain data, with the lines it spans (for its notices). */
export interface YamlDocument {
  value: unknown;
  firstLine: number;
  lastLine: number;
}

/** Every document of `file`, read as the forges read YAML: merge keys resolved, the last of a repeated key kept. */
export function documentsOf(file: string): YamlDocument[] {
  const text = readFileSync(file, 'utf8');
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { merge: true, uniqueKeys: false, lineCounter: lines });
  if (!Array.isArray(docs)) return [];
  // The values as Nestor reads them (list merges of Woodpecker's reader spliced in); the lines from the yaml package.
  const values = YamlSource.parseAll(file, text).map((s) => s.value);
  return docs
    .filter((d) => d.contents !== null)
    .map((d, i) => ({ value: values[i], firstLine: lines.linePos(d.range[0]).line, lastLine: lines.linePos(d.range[2]).line }));
}

/** The path of every map key under `value` (list items are descended into by their index; `<<` is resolved away). */
export function keyPaths(value: unknown, at: string[] = []): string[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => keyPaths(v, [...at, String(i)]));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [[...at, k], ...keyPaths(v, [...at, k])]);
}

/**
 * Whether `path` is one of `pattern`'s. Segments are literal, `*` (any one segment: a name or
 * an index), `#` (a list index only); a last `**` is a free-form map (settings, environment),
 * which counts as read with everything under it once its parent is.
 */
export function matches(pattern: string, path: readonly string[]): boolean {
  const parts = pattern.split('.');
  const free = parts.at(-1) === '**';
  const fixed = free ? parts.slice(0, -1) : parts;
  if (free ? path.length < fixed.length : path.length !== fixed.length) return false;
  return fixed.every((p, i) => p === '*' || (p === '#' ? /^\d+$/.test(path[i]!) : p === path[i]));
}

/**
 * Whether a notice speaks for the key at `path`: its key is that path or one above it. A notice
 * about a step or service as a whole (its key is only `steps.N`: the secret it needs, a dind
 * service served by the job's engine) says nothing of that item's keys. A pipeline Nestor does
 * not run at all says so once, at its top level (`type`, `platform`): that covers all its keys.
 */
export function speaksFor(notice: Pick<PipelineNotice, 'key' | 'code'>, path: readonly string[]): boolean {
  const key = notice.key.split('.');
  if (notice.code === 'NESTOR_PLATFORM_UNAVAILABLE' && key.length === 1) return true;
  if (key.length === 2 && ['steps', 'services', 'pipeline'].includes(key[0]!)) return false;
  return key.length <= path.length && key.every((k, i) => k === path[i]);
}

/** The keys of `doc` that its reader neither reads (`table`) nor names in one of `notices`, dotted. */
export function unaccounted(doc: unknown, table: readonly string[], notices: readonly Pick<PipelineNotice, 'key' | 'code'>[]): string[] {
  return keyPaths(doc)
    .filter((path) => !table.some((p) => matches(p, path)) && !notices.some((n) => speaksFor(n, path)))
    .map((path) => path.join('.'));
}

/** The notices written at `doc` of `file` (notices name their file as Nestor displays it, relative to the working directory). */
export function noticesAt<N extends Pick<PipelineNotice, 'file' | 'line'>>(notices: readonly N[], file: string, doc: YamlDocument): N[] {
  return notices.filter((n) => resolve(n.file) === resolve(file) && n.line >= doc.firstLine && n.line <= doc.lastLine);
}

/** A plan's step by name, or a failure naming the steps there are. */
export function stepOf(p: JobPlan, name: string): PlanStep {
  const s = p.steps.find((x) => x.name === name);
  assert.ok(s, `no step ${name} in ${p.steps.map((x) => x.name).join(', ')}`);
  return s;
}

/** The PipelineError `work` throws; a failure when it accepts. */
export function failureOf(work: () => unknown): PipelineError {
  try {
    work();
  } catch (err) {
    assert.ok(err instanceof PipelineError, String(err));
    return err;
  }
  assert.fail('accepted');
}
