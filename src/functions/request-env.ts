/** What the gateway passes to a function about the HTTP request, besides the body on stdin. */
export interface FunctionRequest {
  method: string;
  /** The path below /fn/NAMESPACE/FUNCTION, starting with "/". */
  path: string;
  /** The raw query string, without "?". */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Headers that describe the connection, not the request: not passed on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/** `x-request-id` → `Http_X_Request_Id`, the names OpenFaaS functions already read. */
export function headerVariable(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return `Http_${words.map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()).join('_')}`;
}

/** A value on one line: the instance reads its variables line by line. */
function oneLine(value: string): string {
  return value.replace(/[\r\n\0]+/g, ' ');
}

/**
 * The request as environment variables (`NAME=value`, one line each). The gateway's own
 * variables come from the request line and win: a client header that maps onto one of them
 * (`Method: DELETE` would be `Http_Method`) is dropped, so a function can trust them.
 */
export function requestEnvironment(req: FunctionRequest): string[] {
  const own = new Map<string, string>([
    ['Http_Method', req.method.toUpperCase()],
    ['Http_Path', req.path || '/'],
    ['Http_Query', req.query],
  ]);
  const env = new Map<string, string>();
  for (const [name, raw] of Object.entries(req.headers)) {
    if (raw === undefined || HOP_BY_HOP.has(name.toLowerCase())) continue;
    const key = headerVariable(name);
    if (key === 'Http_' || own.has(key)) continue;
    env.set(key, Array.isArray(raw) ? raw.join(', ') : raw);
  }
  return [...own, ...env].map(([k, v]) => `${k}=${oneLine(v)}`);
}
