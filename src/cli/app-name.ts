import { NestorError } from '../errors.ts';

export interface AppRef {
  namespace: string;
  name: string;
}

/** The applications of a name, in whichever namespaces have one. */
export type AppsNamed = (name: string) => Promise<AppRef[]>;

/**
 * The application a command names: `NAMESPACE/NAME`, `NAME --namespace NAMESPACE`, or `NAME`
 * alone, looked up in every namespace. Only a name found in several needs its namespace.
 */
export async function resolveApp(id: string, namespace: string | undefined, appsNamed: AppsNamed): Promise<AppRef> {
  const slash = id.indexOf('/');
  if (slash >= 0) {
    const ref = { namespace: id.slice(0, slash), name: id.slice(slash + 1) };
    if (namespace !== undefined && namespace !== ref.namespace) {
      throw new NestorError('NESTOR_USAGE', `${id} names namespace ${ref.namespace}, but --namespace says ${namespace}`, `Give one of them: ${ref.namespace}/${ref.name}, or ${ref.name} --namespace ${namespace}.`);
    }
    return ref;
  }
  if (namespace !== undefined) return { namespace, name: id };
  const found = (await appsNamed(id)).filter((a) => a.name === id);
  if (found.length === 1) return found[0]!;
  if (!found.length) throw new NestorError('NESTOR_APP_NOT_FOUND', `No application ${id} in any namespace`, 'List them with `nestor apps list`; add one with `nestor apps add`.');
  const namespaces = found.map((a) => a.namespace).sort();
  throw new NestorError(
    'NESTOR_APP_AMBIGUOUS',
    `Application ${id} exists in ${namespaces.length} namespaces: ${namespaces.join(', ')}`,
    `Say which one: --namespace ${namespaces[0]} (or ${namespaces[0]}/${id}).`,
  );
}
