/**
 * Local accounts by uid and name, read from /etc/passwd (Node and Bun have no getpwuid). Used only to write
 * messages a technician can act on ("owned by consystence-edge (uid 998)") and to find the service account.
 */
import { readFileSync } from 'node:fs';

function passwdEntries(): Array<{ name: string; uid: number }> {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .filter((fields) => fields.length >= 3 && /^\d+$/.test(fields[2]!))
      .map((fields) => ({ name: fields[0]!, uid: Number(fields[2]) }));
  } catch {
    return [];
  }
}

export function uidOfUser(name: string): number | undefined {
  return passwdEntries().find((entry) => entry.name === name)?.uid;
}

/** "consystence-edge (uid 998)", or "uid 4242" for an account that does not exist. */
export function describeUid(uid: number): string {
  const name = passwdEntries().find((entry) => entry.uid === uid)?.name;
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

/** The effective uid of this process (-1 where the platform has none). */
export const currentUid = (): number => process.geteuid?.() ?? -1;

export const describeMode = (mode: number): string => `mode ${(mode & 0o7777).toString(8).padStart(4, '0')}`;
