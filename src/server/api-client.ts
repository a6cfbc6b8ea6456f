/** A small JSON client for Nestor's API, as scripts, the bench and the tests call it. */
export async function apiCall<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  body: unknown,
  token: string,
): Promise<{ status: number; body: T; type: string }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, type: res.headers.get('content-type') ?? '' };
}
