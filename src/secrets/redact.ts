/**
 * Credentials in URLs, wherever a URL is quoted: `scheme://user:password@host` becomes
 * `scheme://user:***@host`, and for http(s), where a token alone is often the whole
 * credential (`https://TOKEN@github.com/…`), `scheme://***@host`. Git quotes the URLs it
 * was given in its errors; every message that may carry one passes through here.
 */
export function redactUrls(text: string): string {
  // Greedy up to the last "@" before the host's "/": a password may hold an unencoded "@".
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#'"<>]+)@/gi, (_m, scheme: string, userinfo: string) => {
    if (/^https?:\/\/$/i.test(scheme)) return `${scheme}***@`;
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

/** Values too short to replace without mangling ordinary text are left to `redactUrls`. */
const SHORTEST_REPLACED = 6;

/** Every occurrence of the given secret values replaced by `***`, and URLs' credentials as above. */
export function redactSecrets(text: string, secrets: Iterable<string | null | undefined>): string {
  let out = text;
  const values = [...secrets].filter((s): s is string => !!s && s.length >= SHORTEST_REPLACED).sort((a, b) => b.length - a.length);
  for (const s of values) out = out.split(s).join('***');
  return redactUrls(out);
}
