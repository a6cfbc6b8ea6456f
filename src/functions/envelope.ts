/** What the gateway answers for one invocation. */
export interface FunctionResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const ENVELOPE_KEYS = new Set(['statusCode', 'headers', 'body', 'isBase64Encoded']);
/** Headers the gateway sets itself: a function's values would contradict the body sent. */
const GATEWAY_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'trailer']);

/**
 * A function's stdout as an HTTP response. Plain output is the body (JSON is served as JSON);
 * a JSON object in the shape AWS Lambda's proxy integration uses, `{"statusCode", "headers",
 * "body", "isBase64Encoded"}` and nothing else, sets status and headers itself. The shape
 * is strict so that a function returning ordinary JSON is never misread as an envelope.
 */
export function responseFromStdout(stdout: Buffer): FunctionResponse {
  const text = stdout.toString('utf8');
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      parsed = undefined;
    }
    if (parsed !== undefined) {
      const envelope = asEnvelope(parsed);
      if (envelope) return envelope;
      return { status: 200, headers: { 'content-type': 'application/json' }, body: stdout };
    }
  }
  return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: stdout };
}

function asEnvelope(value: unknown): FunctionResponse | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  if (!Object.keys(obj).every((k) => ENVELOPE_KEYS.has(k))) return undefined;
  const status = obj.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) return undefined;
  const headers: Record<string, string> = {};
  if (obj.headers !== undefined) {
    if (!obj.headers || typeof obj.headers !== 'object') return undefined;
    for (const [k, v] of Object.entries(obj.headers as Record<string, unknown>)) {
      // Header names and values go to the client verbatim: refuse what would split a response.
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n]/.test(String(v)) || GATEWAY_HEADERS.has(k.toLowerCase())) continue;
      headers[k.toLowerCase()] = String(v);
    }
  }
  const raw = obj.body;
  const bodyText = raw === undefined || raw === null ? '' : typeof raw === 'string' ? raw : JSON.stringify(raw);
  if (typeof raw === 'object' && raw !== null) headers['content-type'] ??= 'application/json';
  headers['content-type'] ??= 'text/plain; charset=utf-8';
  const body = obj.isBase64Encoded === true ? Buffer.from(bodyText, 'base64') : Buffer.from(bodyText, 'utf8');
  return { status, headers, body };
}
