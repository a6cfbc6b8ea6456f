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
  private readonly doc: Document;
  private readonly lines: LineCounter;

  private constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lines = lines;
    this.value = doc.toJS({ maxAliasCount: 100 });
  }

  static parse(file: string, text: string): YamlSource {
    return YamlSource.parseAll(file, text)[0] ?? YamlSource.parseAll(file, '{}')[0]!;
  }

  /** Every document of a multi-document file (`---` separated), as Drone files have. */
  static parseAll(file: string, text: string): YamlSource[] {
    const lines = new LineCounter();
    const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
    // An empty stream comes back as an object with `errors`, not as a list of documents.
    const docs: Document[] = Array.isArray(parsed) ? (parsed as Document[]) : [];
    const errors = Array.isArray(parsed) ? docs.flatMap((d) => d.errors) : (parsed as { errors: Document['errors'] }).errors;
    const problems = errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      return { position: { file, line: pos.line, column: pos.col }, message: `YAML syntax: ${e.message.split('\n')[0]}` };
    });
    if (problems.length) throw new PipelineError(problems, 'Fix the YAML syntax at the place named (indentation and quoting are the usual causes).');
    return docs.filter((d) => d.contents !== null).map((d) => new YamlSource(file, d, lines));
  }

  /** Where the value at `path` is; with `key`, where that key of the map at `path` is written. */
  position(path: readonly PathSegment[], key?: string): SourcePosition {
    let node: unknown = this.doc.contents;
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
    const pos = this.lines.linePos(offset);
    return { file: this.file, line: pos.line, column: pos.col };
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
