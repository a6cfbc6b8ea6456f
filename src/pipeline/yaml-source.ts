import { Composer, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Parser, visit, YAMLSeq, type CollectionTag, type Document, type Node, type ParseOptions, type ScalarTag, type Tags } from 'yaml';
import type { ErrorCode } from '../errors.ts';
import { PipelineError, type PipelineNotice, type SourcePosition } from './errors.ts';
import { DEFAULT_PIPELINE_LIMITS, PipelineLimitError, type PipelineLimits } from './limits.ts';

export type PathSegment = string | number;

/** GitLab's `!reference [.job, key, …]`: the path of the value it stands for, resolved by the GitLab reader. */
export class YamlReference {
  readonly path: unknown[];
  constructor(path: unknown[]) {
    this.path = path;
  }
}

/** A `!reference` sequence: a list where it is written, a YamlReference in the value. */
class ReferenceSeq extends YAMLSeq {
  override toJSON(_?: unknown, ctx?: Parameters<YAMLSeq['toJSON']>[1]): unknown[] {
    return new YamlReference(super.toJSON(_, ctx)) as unknown as unknown[];
  }
}

const referenceTag = {
  tag: '!reference',
  collection: 'seq',
  nodeClass: ReferenceSeq,
  resolve: (seq: YAMLSeq): ReferenceSeq => Object.assign(new ReferenceSeq(), seq),
} as unknown as CollectionTag;

/**
 * YAML's exponent floats, except where the text cannot be the number: `96e61171` (a commit's
 * first eight hex digits, which Drone's and Woodpecker's ${DRONE_COMMIT_SHA:0:8} puts in the
 * file before it is read) is too large for a number and would become Infinity; Go's YAML,
 * which those forges read with, keeps it as the text it is. So does Nestor: an exponent form
 * whose value is not finite, or that is digits, an `e` and digits (no point, no sign: how a
 * hex prefix looks, never how a file writes a number), stays a string.
 */
function keepHexLikeExponents(tags: Tags): Tags {
  return tags.map((t) => {
    const tag = t as ScalarTag;
    if (tag.tag !== 'tag:yaml.org,2002:float' || tag.format !== 'EXP' || !tag.resolve) return t;
    const resolve = tag.resolve;
    return {
      ...tag,
      resolve: (text: string, onError: (message: string) => void, options: ParseOptions) => {
        const n = Number(text);
        return !Number.isFinite(n) || /^[0-9]+[eE][0-9]+$/.test(text) ? text : resolve(text, onError, options);
      },
    } as ScalarTag;
  });
}

/**
 * A parsed YAML file that remembers where each value came from, so that any later check can
 * point at file:line:column.
 */
export class YamlSource {
  readonly file: string;
  readonly value: unknown;
  /** What the file was read under; the readers check their own limits (extends, patterns) against it. */
  readonly limits: PipelineLimits;
  /**
   * Keys written twice in one map. The value is the last one's, as GitLab's and Drone's YAML
   * readers keep it; a format that refuses them says so (load.ts).
   */
  readonly repeated: RepeatedKey[];
  private located: (() => Located) | Located;
  /** The files a value was merged from (GitLab's `include`), the one that counts last. */
  private layers?: readonly YamlSource[];
  /** Where a path is, for a value not parsed from YAML (`placed`). */
  private place?: (path: readonly PathSegment[], key?: string) => SourcePosition;

  private constructor(file: string, value: unknown, located: (() => Located) | Located, limits: PipelineLimits, repeated: RepeatedKey[] = []) {
    this.file = file;
    this.value = value;
    this.located = located;
    this.limits = limits;
    this.repeated = repeated;
  }

  static parse(file: string, text: string, limits: PipelineLimits = DEFAULT_PIPELINE_LIMITS): YamlSource {
    return YamlSource.parseAll(file, text, limits)[0] ?? YamlSource.parseAll(file, '{}', limits)[0]!;
  }

  /**
   * Every document of a multi-document file (`---` separated), as Drone files have.
   *
   * A `.json` file that is valid JSON is read by JSON.parse, several times faster than the YAML
   * parser (API submissions are JSON and the server compiles each one as it arrives); the YAML
   * parse that positions need is done only when a problem is reported. JSON's rules apply to
   * such a file (a repeated key keeps its last value); anything else goes to the YAML parser.
   */
  static parseAll(file: string, text: string, limits: PipelineLimits = DEFAULT_PIPELINE_LIMITS): YamlSource[] {
    if (file.endsWith('.json')) {
      const value = parseJson(text);
      if (value !== undefined) {
        if (value === null) return [];
        const source = new YamlSource(file, value, () => locate(file, text, limits.depth)[0]!, limits);
        source.checkDepth();
        return [source];
      }
    }
    return locate(file, text, limits.depth).map((l) => {
      const source = new YamlSource(file, toValue(file, l, limits), l, limits, repeatedKeys(file, l));
      source.checkDepth();
      return source;
    });
  }

  /** A notice for each key written twice in one map, naming both lines, for a format whose reader (`reader`) keeps the last. */
  repeatedNotices(reader: string): PipelineNotice[] {
    return this.repeated.map((r) => ({
      ...r.again,
      code: 'NESTOR_REPEATED_KEY',
      key: [...r.path, r.key].join('.'),
      severity: 'info',
      message: `"${r.key}" is written twice in one map, at line ${r.first.line} and line ${r.again.line}: the one at line ${r.again.line} counts, as ${reader} reads it`,
    }));
  }

  /**
   * `value`, merged from several files (GitLab's includes, then the file itself): a position
   * is looked up in the last of `layers` that writes the path, the one whose value counts.
   */
  static layered(main: YamlSource, value: unknown, layers: readonly YamlSource[]): YamlSource {
    const source = new YamlSource(main.file, value, main.located, main.limits, main.repeated);
    source.layers = layers;
    return source;
  }

  /**
   * A value that was made, not parsed (Drone's Jsonnet, evaluated): no YAML text holds it, so
   * `place` says where each path is, as near as the text that made it allows.
   */
  static placed(file: string, value: unknown, place: (path: readonly PathSegment[], key?: string) => SourcePosition, limits: PipelineLimits): YamlSource {
    const source = new YamlSource(file, value, () => locate(file, '{}', limits.depth)[0]!, limits);
    source.place = place;
    source.checkDepth();
    return source;
  }

  /** Throws when maps and lists nest deeper than the limit (an alias to an ancestor nests without end). */
  private checkDepth(): void {
    const path: PathSegment[] = [];
    const tooDeep = (value: unknown): boolean => {
      if (typeof value !== 'object' || value === null) return false;
      if (path.length >= this.limits.depth) return true;
      for (const [key, child] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
        path.push(key);
        if (tooDeep(child)) return true;
        path.pop();
      }
      return false;
    };
    if (tooDeep(this.value)) throw new PipelineLimitError('depth', this.limits.depth, this.position(path), `maps and lists nest more than ${this.limits.depth} deep here`);
  }

  /**
   * A notice about the key `key` of the map at `path` (or the value at `path` when no key is
   * given), at the place it is written.
   */
  notice(path: readonly PathSegment[], key: string | undefined, code: ErrorCode, message: string, severity: PipelineNotice['severity']): PipelineNotice {
    return { ...this.position(path, key), code, message, key: [...path, ...(key === undefined ? [] : [key])].join('.'), severity };
  }

  /** Where the value at `path` is; with `key`, where that key of the map at `path` is written. */
  position(path: readonly PathSegment[], key?: string): SourcePosition {
    if (this.place) return this.place(path, key);
    if (this.layers?.length) {
      const full = key === undefined ? path : [...path, key];
      for (let n = full.length; n >= 1; n--) {
        const layer = this.layers.findLast((l) => plainAt(l.value, full.slice(0, n)) !== undefined);
        if (layer) return layer.position(path, key);
      }
      return this.layers[this.layers.length - 1]!.position(path, key);
    }
    if (typeof this.located === 'function') this.located = this.located();
    const { doc, lines } = this.located;
    let node: unknown = doc.contents;
    let found: Node | undefined = isNodeLike(node) ? node : undefined;
    for (const segment of path) {
      const next = childOf(doc, node, segment);
      if (next === undefined) break;
      node = next.value;
      found = next.keyNode ?? found;
      if (isNodeLike(node)) found = node;
    }
    if (key !== undefined) {
      const pair = pairOf(doc, resolved(doc, node), key);
      if (pair && isNodeLike(pair.key)) found = pair.key;
    }
    const offset = found?.range?.[0] ?? 0;
    const pos = lines.linePos(offset);
    return { file: this.file, line: pos.line, column: pos.col };
  }
}

interface Located {
  doc: Document;
  lines: LineCounter;
}

/** A document's value; aliases expanded past the limit are refused where the first alias is. */
function toValue(file: string, l: Located, limits: PipelineLimits): unknown {
  spliceSequenceMerges(l.doc);
  try {
    return l.doc.toJS({ maxAliasCount: limits.aliases });
  } catch (err) {
    if (err instanceof Error && /^Merge sources/.test(err.message)) throw mergeProblem(file, l);
    // The yaml package's own guard against alias bombs ("Excessive alias count …").
    if (!(err instanceof ReferenceError && /alias/i.test(err.message))) throw err;
    let offset = 0;
    visit(l.doc, {
      Alias(_, node) {
        offset = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    const pos = l.lines.linePos(offset);
    throw new PipelineLimitError('aliases', limits.aliases, { file, line: pos.line, column: pos.col }, 'YAML aliases here expand to more nodes than allowed (an alias bomb?)');
  }
}

/**
 * Woodpecker's YAML reader merges lists too: a list item `<<: *list` (or `<<: [*a, *b]`) of
 * lists only is replaced by their items, in place. The yaml package merges only maps, so the
 * document is rewritten before it is read; every position still points at what is written.
 */
function spliceSequenceMerges(doc: Document): void {
  visit(doc, {
    Seq(_, seq) {
      if (!seq.items.some((item) => sequenceMergeOf(doc, item))) return;
      seq.items = seq.items.flatMap((item) => sequenceMergeOf(doc, item)?.flatMap((from) => from.items as unknown[]) ?? [item]);
    },
  });
}

/** The lists an item `<<: *a` merges in, when it is only that and every source is a list. */
function sequenceMergeOf(doc: Document, item: unknown): YAMLSeq[] | undefined {
  if (!isMap(item) || item.items.length !== 1 || !isMergeKey(item.items[0]!.key)) return undefined;
  const value = resolved(doc, item.items[0]!.value);
  const sources = isSeq(value) && !isAlias(item.items[0]!.value) ? value.items.map((i) => resolved(doc, i)) : [value];
  return sources.length > 0 && sources.every(isSeq) ? (sources as YAMLSeq[]) : undefined;
}

/** A merge key whose sources are not maps (nor lists in a list): a problem where it is written. */
function mergeProblem(file: string, l: Located): PipelineError {
  let offset = 0;
  visit(l.doc, {
    Pair(_, pair) {
      if (!isMergeKey(pair.key)) return;
      const value = resolved(l.doc, pair.value);
      const sources = isSeq(value) ? value.items.map((i) => resolved(l.doc, i)) : [value];
      if (sources.every(isMap)) return;
      offset = (pair.key as Node).range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  const pos = l.lines.linePos(offset);
  return new PipelineError(
    [{ position: { file, line: pos.line, column: pos.col }, message: 'YAML merge key <<: merges maps into a map (or lists into a list item), and this merges something else' }],
    'Merge only maps with <<: (<<: *defaults or <<: [*a, *b]), or write the values out.',
  );
}

/**
 * Stops parsing as soon as collections nest deeper than `maxDepth`: the yaml package would
 * otherwise spend seconds on a megabyte of `[[[[…` before running out of stack. The parser's
 * stack holds the document and the node being read besides each open collection.
 */
class BoundedParser extends Parser {
  private readonly maxStack: number;
  deepAt: number | undefined;
  constructor(onNewLine: (offset: number) => void, maxDepth: number) {
    super(onNewLine);
    this.maxStack = maxDepth + 3;
  }

  override *next(source: string) {
    yield* super.next(source);
    if (this.stack.length > this.maxStack) {
      this.deepAt = this.offset;
      throw new NestedTooDeep();
    }
  }
}
/**
 * Private control flow: the parser's signal that a document nests too deep, caught at once by
 * `locate` below and thrown on as PipelineLimitError with file:line:column. It never leaves
 * this module, so it is no NestorError.
 */
class NestedTooDeep extends Error {}

/** The documents of a YAML text with their line counter; a syntax error is thrown with file:line:column. */
function locate(file: string, text: string, depth: number): Located[] {
  const lines = new LineCounter();
  const parser = new BoundedParser(lines.addNewLine, depth);
  // Repeated keys are kept (the last one counts) and found by repeatedKeys, in one pass.
  const composer = new Composer({ prettyErrors: false, uniqueKeys: false, merge: true, customTags: (tags) => [...keepHexLikeExponents(tags), referenceTag] });
  let docs: Document[];
  try {
    docs = [...composer.compose(parser.parse(text))];
  } catch (err) {
    if (!(err instanceof NestedTooDeep)) throw err;
    const pos = lines.linePos(parser.deepAt ?? 0);
    throw new PipelineLimitError('depth', depth, { file, line: pos.line, column: pos.col }, `maps and lists nest more than ${depth} deep here`);
  }
  // An empty stream has no document to carry its errors.
  const errors = docs.length ? docs.flatMap((d) => d.errors) : composer.streamInfo().errors;
  const at = (offset: number) => {
    const pos = lines.linePos(offset);
    return { file, line: pos.line, column: pos.col };
  };
  const problems = errors
    .map((e) => ({ position: at(e.pos[0]), message: `YAML syntax: ${e.message.split('\n')[0]}` }))
    .sort((a, b) => a.position.line - b.position.line || a.position.column - b.position.column);
  if (problems.length) throw new PipelineError(problems, 'Fix the YAML syntax at the place named (indentation and quoting are the usual causes).');
  return docs.filter((d) => d.contents !== null).map((doc) => ({ doc, lines }));
}

/** A key written a second time in its map: where each is, and the map's path. */
export interface RepeatedKey {
  path: PathSegment[];
  key: string;
  first: SourcePosition;
  again: SourcePosition;
}

/**
 * Each key written a second time in its map (keys compared by value, as the yaml package
 * does), found in one pass: the yaml package looks through every earlier key of a map for
 * each key, n² for a map of 5,000 steps.
 */
function repeatedKeys(file: string, l: Located): RepeatedKey[] {
  const found: RepeatedKey[] = [];
  const at = (offset: number): SourcePosition => {
    const pos = l.lines.linePos(offset);
    return { file, line: pos.line, column: pos.col };
  };
  visit(l.doc, {
    Map(_, map, ancestors) {
      const seen = new Map<unknown, number>();
      for (const pair of map.items) {
        if (!isScalar(pair.key) || isMergeKey(pair.key)) continue;
        const offset = pair.key.range?.[0] ?? 0;
        const earlier = seen.get(pair.key.value);
        if (earlier !== undefined) found.push({ path: pathOf([...ancestors, map]), key: String(pair.key.value), first: at(earlier), again: at(offset) });
        seen.set(pair.key.value, offset);
      }
    },
  });
  return found;
}

/** The path of keys and indexes down to the last of `nodes` (a visitor's ancestors and itself). */
function pathOf(nodes: readonly unknown[]): PathSegment[] {
  const path: PathSegment[] = [];
  for (let i = 0; i < nodes.length - 1; i++) {
    const node = nodes[i];
    if (isPair(node) && isScalar(node.key)) path.push(String(node.key.value));
    else if (isSeq(node)) path.push(node.items.indexOf(nodes[i + 1] as never));
  }
  return path;
}

/** The value of a JSON text, or undefined when it is not JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isNodeLike(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value;
}

function plainAt(value: unknown, path: readonly PathSegment[]): unknown {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PathSegment, unknown>)[segment];
  }
  return node;
}

/** `<<`, which the yaml package reads as a symbol when merge keys are on. */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === 'symbol' || key.value === '<<') && key.source === '<<';
}

/** An alias's node, or the node itself. */
function resolved(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

/**
 * The pair of a map that gives `key` its value: the last one written (as the value keeps it),
 * else one merged in by `<<: *a` or `<<: [*a, *b]` (the first of those that has it).
 */
function pairOf(doc: Document, map: unknown, key: string, depth = 0): { key: unknown; value: unknown } | undefined {
  if (!isMap(map) || depth > 64) return undefined;
  const own = map.items.findLast((p) => isPair(p) && isScalar(p.key) && !isMergeKey(p.key) && String(p.key.value) === key);
  if (own) return own;
  for (const merge of map.items.filter((p) => isMergeKey(p.key))) {
    const value = resolved(doc, merge.value);
    const sources = isSeq(value) ? value.items.map((i) => resolved(doc, i)) : [value];
    for (const from of sources) {
      const pair = pairOf(doc, from, key, depth + 1);
      if (pair) return pair;
    }
  }
  return undefined;
}

function childOf(doc: Document, node: unknown, segment: PathSegment): { value: unknown; keyNode?: Node } | undefined {
  const at = resolved(doc, node);
  if (isMap(at)) {
    const pair = pairOf(doc, at, String(segment));
    if (!pair) return undefined;
    return { value: resolved(doc, pair.value), ...(isNodeLike(pair.key) ? { keyNode: pair.key } : {}) };
  }
  if (isSeq(at) && typeof segment === 'number') {
    const item = at.items[segment];
    return item === undefined ? undefined : { value: resolved(doc, item) };
  }
  return undefined;
}
