import { isMap, isPair, isScalar, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { PipelineError, type SourcePosition } from './errors.ts';

export type PathSegment = string | number;

/**
 * A parsed YAML file that remembers where each value came from, so that any later check can
 * point at file:line:column.
 */
export class YamlSource {
  readonly file: string;
  readonly value: unknown;
  private located: (() => Located) | Located;

  private constructor(file: string, value: unknown, located: (() => Located) | Located) {
    this.file = file;
    this.value = value;
    this.located = located;
  }

  static parse(file: string, text: string): YamlSource {
    return YamlSource.parseAll(file, text)[0] ?? YamlSource.parseAll(file, '{}')[0]!;
  }

  /**
   * Every document of a multi-document file (`---` separated), as Drone files have.
   *
   * A `.json` file that is valid JSON is read by JSON.parse, several times faster than the YAML
   * parser (API submissions are JSON and the server compiles each one as it arrives); the YAML
   * parse that positions need is done only when a problem is reported. JSON's rules apply to
   * such a file (a repeated key keeps its last value); anything else goes to the YAML parser.
   */
  static parseAll(file: string, text: string): YamlSource[] {
    if (file.endsWith('.json')) {
      const value = parseJson(text);
      if (value !== undefined) return value === null ? [] : [new YamlSource(file, value, () => locate(file, text, { uniqueKeys: false })[0]!)];
    }
    return locate(file, text).map((l) => new YamlSource(file, l.doc.toJS({ maxAliasCount: 100 }), l));
  }

  /** Where the value at `path` is; with `key`, where that key of the map at `path` is written. */
  position(path: readonly PathSegment[], key?: string): SourcePosition {
    if (typeof this.located === 'function') this.located = this.located();
    const { doc, lines } = this.located;
    let node: unknown = doc.contents;
    let found: Node | undefined = isNodeLike(node) ? node : undefined;
    for (const segment of path) {
      const next = childOf(node, segment);
      if (next === undefined) break;
      node = next.value;
      found = next.keyNode ?? found;
      if (isNodeLike(node)) found = node;
    }
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
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

/** The documents of a YAML text with their line counter; a syntax error is thrown with file:line:column. */
function locate(file: string, text: string, opts = { uniqueKeys: true }): Located[] {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: opts.uniqueKeys, merge: true });
  // An empty stream comes back as an object with `errors`, not as a list of documents.
  const docs: Document[] = Array.isArray(parsed) ? (parsed as Document[]) : [];
  const errors = Array.isArray(parsed) ? docs.flatMap((d) => d.errors) : (parsed as { errors: Document['errors'] }).errors;
  const problems = errors.map((e) => {
    const pos = lines.linePos(e.pos[0]);
    return { position: { file, line: pos.line, column: pos.col }, message: `YAML syntax: ${e.message.split('\n')[0]}` };
  });
  if (problems.length) throw new PipelineError(problems, 'Fix the YAML syntax at the place named (indentation and quoting are the usual causes).');
  return docs.filter((d) => d.contents !== null).map((doc) => ({ doc, lines }));
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

function childOf(node: unknown, segment: PathSegment): { value: unknown; keyNode?: Node } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
    if (!pair) return undefined;
    return { value: pair.value, ...(isNodeLike(pair.key) ? { keyNode: pair.key } : {}) };
  }
  if (node && typeof node === 'object' && 'items' in node && Array.isArray((node as { items: unknown[] }).items) && typeof segment === 'number') {
    const item = (node as { items: unknown[] }).items[segment];
    return item === undefined ? undefined : { value: item };
  }
  return undefined;
}
