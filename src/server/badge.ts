/** The colours and words of a badge, by a pipeline's status. */
const LOOK: Record<string, { text: string; colour: string }> = {
  succeeded: { text: 'passing', colour: '#4c1' },
  failed: { text: 'failing', colour: '#e05d44' },
  cancelled: { text: 'cancelled', colour: '#9f9f9f' },
  running: { text: 'running', colour: '#dfb317' },
  unknown: { text: 'unknown', colour: '#9f9f9f' },
};

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Verdana 11px is about 6.5 px a character: enough for a badge's short words. */
const width = (s: string) => Math.round(s.length * 6.5 + 10);

/** A status badge as forges show them (label on grey, status in its colour), for a README. */
export function badgeSvg(label: string, status: string): string {
  const look = LOOK[status] ?? LOOK.unknown!;
  const [l, r] = [width(label), width(look.text)];
  const total = l + r;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="20" role="img" aria-label="${escapeXml(`${label}: ${look.text}`)}">
<title>${escapeXml(`${label}: ${look.text}`)}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="${total}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="${l}" height="20" fill="#555"/><rect x="${l}" width="${r}" height="20" fill="${look.colour}"/><rect width="${total}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<text x="${l / 2}" y="14">${escapeXml(label)}</text><text x="${l + r / 2}" y="14">${escapeXml(look.text)}</text>
</g>
</svg>
`;
}
