/**
 * `reset`: forgets the registration (the device must be paired again); `--keys` also replaces the device key.
 * Destructive, so it asks on a terminal and refuses without --yes when nobody can answer; and while a `pair` or
 * `register` is interrupted it refuses without --force, naming that request (its code or licence may be spent).
 */
import { createInterface } from 'node:readline/promises';
import { EdgeError } from '../errors.js';
import { loadSiteRegistration, type SiteRegistration } from '../site-server/site-registration-store.js';
import type { PendingPairing } from '../stores/pending-pairing-store.js';
import { acquireRegistrationLock, acquireRunLock, serviceRunning } from '../stores/run-lock.js';
import { commonSettings, loggerFor, openRuntime, parseFlags, type Subcommand } from './common.js';
import {
  describePending,
  pendingFinishCommand,
  type PendingRequest,
  pendingSentence,
  pendingSpent,
} from '../pairing/pending-request.js';

export const reset: Subcommand = {
  describe: 'forget the registration (and with --keys the device key); the device must be paired again',
  usage: 'consystence-edge reset [--keys] [--yes] [--force]',
  async run(io) {
    const values = parseFlags(io.argv, {
      keys: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      force: { type: 'boolean' },
    });
    const settings = commonSettings(values, io.env);
    const keys = values.keys === true;
    if (values.yes !== true && !io.stdinIsTty)
      throw new EdgeError('USAGE', 'reset needs --yes when not run from a terminal');
    const lock = await acquireRunLock(settings.stateDir, serviceRunning('reset'));
    // A pair or register running right now would save its registration after the reset.
    const registering = await acquireRegistrationLock(settings.stateDir).catch((error: unknown) => {
      lock.release();
      throw error;
    });
    const runtime = await openRuntime(settings, loggerFor(settings, io, 'reset'), io, { upgradeLayout: true }).catch(
      (error: unknown) => {
        registering.release();
        lock.release();
        throw error;
      },
    );
    try {
      const abandoned = checkPending(runtime.state.pending.get(), values.force === true);
      if (values.yes !== true && !(await confirmed(keys))) {
        io.stdout('nothing changed\n');
        return 0;
      }
      // Read before the reset forgets it: how the device registered decides what to suggest next.
      const site = loadSiteRegistration(runtime.state.db);
      const edgeId = runtime.state.registration.get()?.edgeId;
      const { notScrubbed } = await runtime.reset({ keys });
      if (abandoned) io.stderr(`warning: ${pendingSentence(abandoned)} was abandoned: ${pendingSpent(abandoned)}\n`);
      if (notScrubbed) {
        io.stderr(
          `warning: the old credentials are deleted but their bytes may remain on disk (${notScrubbed}); stop the service and run reset again\n`,
        );
      }
      io.stdout(
        settings.json
          ? `${JSON.stringify({ reset: true, keys })}\n`
          : `reset done${keys ? ' (new device key)' : ''}; ${nextStep(site, edgeId)}\n`,
      );
      return 0;
    } finally {
      runtime.close();
      registering.release();
      lock.release();
    }
  },
};

/**
 * An interrupted `pair` or `register` may already have spent its code or bound its licence: forgetting it
 * silently lets the next run spend a second one on this device. Refused unless --force (then returned, to warn).
 */
function checkPending(pending: PendingPairing | null, force: boolean): PendingRequest | undefined {
  if (!pending) return undefined;
  const request = describePending(pending);
  if (!force)
    throw new EdgeError(
      'REGISTRATION_PENDING',
      `${pendingSentence(request)} did not finish: ${pendingSpent(request)}. Finish it with the same command (${pendingFinishCommand(request)}), or pass --force to reset anyway`,
    );
  return request;
}

async function confirmed(keys: boolean): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(
      `This forgets the registration${keys ? ' and the device key' : ''}; the device must be paired again. Type "yes" to continue: `,
    );
    return answer.trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}

/** A device registered through a site server registers there again (its licence stays bound to this hardware). */
function nextStep(site: SiteRegistration | null, edgeId: string | undefined): string {
  if (!site) return "pair again with: consystence-edge pair --uri '…'";
  return `register again with the same licence key (it stays bound to this device): consystence-edge register --site-server ${site.siteServerUrl} --site-server-fingerprint ${site.fingerprint} --edge-id ${edgeId ?? '…'} --licence-key-file FILE`;
}
