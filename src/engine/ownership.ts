import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Who owns a throw-away Docker object, and whether that owner still lives.
 *
 * A process id alone cannot say: pids repeat across containers, hosts and reboots, so a new
 * process could be taken for a dead owner (and its engines left to leak) or a dead owner for a
 * live one. Each Nestor process therefore has a random instance id, written on the labels of
 * everything it makes, and a heartbeat file that it touches while it runs. The file records
 * the process's pid with its kernel start time, which together name one process exactly;
 * where that cannot be checked (another pid namespace), the file's freshness decides.
 */

/** Labels beside the owner id, for people reading `docker ps`. */
export const LABEL_OWNER_HOST = 'dev.nestor.owner.host';
export const LABEL_OWNER_PID = 'dev.nestor.owner.pid';

/** A heartbeat older than this belongs to a dead process. */
export const HEARTBEAT_STALE_MS = 20_000;
const HEARTBEAT_EVERY_MS = 5_000;

interface Heartbeat {
  id: string;
  host: string;
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22). */
  start: string | null;
  /** Its pid namespace (`pid:[inode]`): pids can be checked only from within the same one. */
  pidns: string | null;
}

let heartbeatDir = join(tmpdir(), 'nestor-owners');
let current: Heartbeat | undefined;

/** Where heartbeats live (NESTOR_RUN_DIR at the CLI edge); processes that share a host should share it. */
export function setHeartbeatDir(dir: string): void {
  if (current) throw new Error('the heartbeat directory must be set before the first object is made');
  heartbeatDir = dir;
}

/** This process's owner id; the first call writes its heartbeat and keeps it fresh until exit. */
export function processOwner(): string {
  if (current) return current.id;
  current = { id: randomBytes(16).toString('hex'), host: hostname(), pid: process.pid, start: startTimeOf(process.pid), pidns: pidNamespace() };
  const file = heartbeatFile(current.id);
  mkdirSync(heartbeatDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(current), { mode: 0o600 });
  const timer = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(file, now, now);
    } catch {
      writeFileSync(file, JSON.stringify(current)); // removed by someone: put it back
    }
  }, HEARTBEAT_EVERY_MS);
  timer.unref();
  process.once('exit', () => rmSync(file, { force: true }));
  return current.id;
}

/** The labels that mark an object as this process's. */
export function ownerLabels(): Record<string, string> {
  return { 'dev.nestor.owner': processOwner(), [LABEL_OWNER_HOST]: hostname(), [LABEL_OWNER_PID]: String(process.pid) };
}

/**
 * Whether the owner named on an object's labels is alive. Unsure answers are "alive": a live
 * owner's work must never be removed, and `nestor prune` deals with what is truly abandoned.
 */
export function ownerAlive(owner: string, labels: Record<string, string> = {}): boolean {
  if (/^[0-9a-f]{32}$/.test(owner)) return instanceAlive(owner, labels);
  return legacyOwnerAlive(owner);
}

function instanceAlive(id: string, labels: Record<string, string>): boolean {
  if (current?.id === id) return true;
  const beat = readHeartbeat(id);
  if (beat) {
    // In the same pid namespace the pid and its start time name the process exactly, so a
    // process killed a moment ago is known dead at once; from elsewhere only freshness tells.
    if (beat.pidns !== null && beat.start !== null && beat.pidns === pidNamespace()) return startTimeOf(beat.pid) === beat.start;
    return fresh(id);
  }
  // No heartbeat here: the owner ran with another heartbeat directory (another container or
  // host). Only a dead pid on this very host is evidence enough.
  if (labels[LABEL_OWNER_HOST] !== hostname()) return true;
  const pid = Number(labels[LABEL_OWNER_PID]);
  return Number.isInteger(pid) && pid > 0 ? processVisible(pid) !== false : true;
}

/** Labels of the form `hostname:pid`, written by earlier versions. */
function legacyOwnerAlive(owner: string): boolean {
  const [host, pidText] = owner.split(':');
  if (host !== hostname()) return true;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return processVisible(pid) !== false;
}

function fresh(id: string): boolean {
  try {
    return Date.now() - statSync(heartbeatFile(id)).mtimeMs < HEARTBEAT_STALE_MS;
  } catch {
    return false;
  }
}

function readHeartbeat(id: string): Heartbeat | undefined {
  try {
    return JSON.parse(readFileSync(heartbeatFile(id), 'utf8')) as Heartbeat;
  } catch {
    return undefined;
  }
}

/** Removes the heartbeat of an owner found dead, once its objects are gone. */
export function forgetOwner(id: string): void {
  if (/^[0-9a-f]{32}$/.test(id) && id !== current?.id) rmSync(heartbeatFile(id), { force: true });
}

function heartbeatFile(id: string): string {
  return join(heartbeatDir, `${id}.json`);
}

/** true: a process with this pid exists here; false: none does; undefined: cannot tell. */
function processVisible(pid: number): boolean | undefined {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EPERM' ? true : code === 'ESRCH' ? false : undefined;
  }
}

function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after the last ")" are plain.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}
