import { createHash } from 'node:crypto';

/**
 * A name Docker takes for a container or network alias ([a-zA-Z0-9][a-zA-Z0-9_.-]*), made from
 * a step's name. GitLab job names may hold any character (`test:unit`, `build image`); such a
 * name is kept readable and told apart from its neighbours by a short hash of the original.
 */
export function containerSafeName(name: string): string {
  if (/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) return name;
  const readable = name.replace(/[^a-zA-Z0-9_.-]+/g, '-').replace(/^[^a-zA-Z0-9]+/, '').replace(/-+$/, '').slice(0, 40);
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return readable ? `${readable}-${hash}` : `step-${hash}`;
}
