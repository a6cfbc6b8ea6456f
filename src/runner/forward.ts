import type { Duplex } from 'node:stream';

/**
 * Joins an accepted connection to one toward its target, both ways and half-open (a client
 * done sending still reads to the end: docker run's attach with no stdin), tracked in `open`
 * until either side ends, so that a closing gateway can cut what is left.
 */
export function forward<S extends Duplex>(client: S, far: Duplex, open: Set<S>): void {
  open.add(client);
  const end = () => {
    client.destroy();
    far.destroy();
    open.delete(client);
  };
  client.on('error', end).on('close', end);
  far.on('error', end).on('close', end);
  client.pipe(far).pipe(client);
}
