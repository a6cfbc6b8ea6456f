import { credentialStrings } from '../secrets/docker-config.ts';

/**
 * Replaces every secret value in a line with `********`. Multi-line secrets are masked line by
 * line, since logs travel as lines. Longer secrets first, so one that contains another is
 * masked whole. A secret that is a Docker config.json (a pull secret) masks the credentials in
 * it too, each alone: a line may show one password without the JSON around it.
 */
export class SecretMasker {
  private readonly values: string[];

  constructor(secrets: string[]) {
    this.values = [...new Set(secrets.flatMap((s) => [s, ...credentialStrings(s)]).flatMap((s) => s.split('\n')).map((s) => s.trim()).filter((s) => s.length >= 3))].sort(
      (a, b) => b.length - a.length,
    );
  }

  /** A value the job itself asks to hide from here on (GitHub's `::add-mask::`). */
  add(value: string): void {
    for (const v of value.split('\n').map((s) => s.trim()).filter((s) => s.length >= 3)) {
      if (this.values.includes(v)) continue;
      this.values.push(v);
      this.values.sort((a, b) => b.length - a.length);
    }
  }

  mask(line: string): string {
    let out = line;
    for (const v of this.values) if (out.includes(v)) out = out.replaceAll(v, '********');
    return out;
  }
}
