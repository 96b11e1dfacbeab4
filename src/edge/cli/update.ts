/**
 * `update status`: the running version, the update in progress and the last result, from the state only.
 * `update install --file BUNDLE`: an offline install (a USB stick): the bundle gets the checks an offer gets
 * (signature by a trusted key, arch, no downgrade without --allow-downgrade, free space, sha256), then the same
 * install path. It refuses while the service runs (it holds the run lock): two writers of one job table and one
 * set of release links would race, so the technician stops the service, installs, and starts it again; the
 * launcher then runs the new version on trial, exactly as after an over-the-air update.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { BundleError, readBundle } from '../../protocol/release-bundle.js';
import { describeUid } from '../../storage/index.js';
import { EdgeError } from '../errors.js';
import { acquireRunLock, serviceRunning } from '../stores/run-lock.js';
import { createUpdateEngine } from '../update/index.js';
import { UpdateRefused } from '../update/prechecks.js';
import { formatUpdateSummary, readUpdateSummary } from '../update/summary.js';
import { type CliIo, commonSettings, loggerFor, openRuntime, parseFlags, type Subcommand } from './common.js';

export const update: Subcommand = {
  describe: 'show the update state, or install a release bundle from a file (offline)',
  usage:
    'consystence-edge update status [--json] | consystence-edge update install --file BUNDLE [--allow-downgrade] [--yes]',
  async run(io) {
    const [action, ...rest] = io.argv;
    if (action === 'status') return status({ ...io, argv: rest });
    if (action === 'install') return install({ ...io, argv: rest });
    throw new EdgeError('USAGE', `update needs 'status' or 'install'${action ? `, not '${action.slice(0, 40)}'` : ''}`);
  },
};

async function status(io: CliIo): Promise<number> {
  const settings = commonSettings(parseFlags(io.argv, {}), io.env);
  const runtime = await openRuntime(settings, loggerFor(settings, io, 'update'), io, { readOnly: true });
  try {
    const summary = readUpdateSummary(runtime.state.db, settings.stateDir, runtime.version);
    io.stdout(settings.json ? `${JSON.stringify(summary)}\n` : `${formatUpdateSummary(summary).join('\n')}\n`);
    return 0;
  } finally {
    runtime.close();
  }
}

async function install(io: CliIo): Promise<number> {
  const values = parseFlags(io.argv, {
    file: { type: 'string' },
    'allow-downgrade': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
  });
  const settings = commonSettings(values, io.env);
  if (!values.file) throw new EdgeError('USAGE', 'update install needs --file BUNDLE');
  refuseRootInServiceFolder(settings.stateDir);
  // The job keeps the path: a service that finishes an interrupted install runs in another working directory.
  const file = resolve(values.file);
  let bundle: Awaited<ReturnType<typeof readBundle>>;
  try {
    bundle = await readBundle(file);
  } catch (error) {
    if (error instanceof BundleError) throw new EdgeError('UPDATE_REFUSED', error.message);
    throw error;
  }
  if (values.yes !== true) {
    if (!io.stdinIsTty) throw new EdgeError('USAGE', 'update install needs --yes when not run from a terminal');
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(
      `This installs the release in ${file} after checking it; the new version runs at the next start of the service. Type "yes" to continue: `,
    );
    rl.close();
    if (answer.trim().toLowerCase() !== 'yes') {
      io.stdout('nothing changed\n');
      return 0;
    }
  }
  const lock = await acquireRunLock(settings.stateDir, serviceRunning('run update install again'));
  const runtime = await openRuntime(settings, loggerFor(settings, io, 'update'), io, { upgradeLayout: true }).catch(
    (error: unknown) => {
      lock.release();
      throw error;
    },
  );
  try {
    const engine = createUpdateEngine(runtime, settings.stateDir, {
      // Offline: nothing to publish (the service reports the job's state when it connects) and nothing to fetch.
      publish: async () => {},
      requestRestart: () => {},
      downloadTarget: () => {
        throw new Error('an offline install downloads nothing');
      },
    });
    const job = await engine
      .installFile({ path: file, ...bundle }, values['allow-downgrade'] === true)
      .catch((error: unknown) => {
        if (error instanceof UpdateRefused) throw new EdgeError('UPDATE_REFUSED', `${error.code}: ${error.message}`);
        throw error;
      });
    if (job.state === 'failed')
      throw new EdgeError('UPDATE_REFUSED', `${job.reason?.code}: ${job.reason?.message ?? 'the install failed'}`);
    io.stdout(
      settings.json
        ? `${JSON.stringify({ installed: job.version, state: job.state })}\n`
        : job.state === 'restarting'
          ? `installed ${job.kind} ${job.version}; start the service to run it on trial: systemctl start consystence-edge\n`
          : `installed ${job.kind} ${job.version}\n`,
    );
    return 0;
  } finally {
    runtime.close();
    lock.release();
  }
}

/**
 * Root installing into the service account's folder would leave the release, its links and the identity snapshot
 * root's: the launcher could not start the new version and a rollback would put a root-owned identity.db in place,
 * and the service would never start again. So the install runs as the folder's owner, or refuses.
 */
function refuseRootInServiceFolder(stateDir: string): void {
  if (process.geteuid?.() !== 0) return;
  let owner: number;
  try {
    owner = statSync(stateDir).uid;
  } catch {
    return; // no folder yet: the install creates it, and root owns what it creates, as it should
  }
  if (owner === 0) return;
  throw new EdgeError(
    'USAGE',
    `run update install as the account that owns ${stateDir} (${describeUid(owner)}), not as root: files root writes there would stop the service from starting the new version. For example: sudo -u ${describeUid(owner).split(' ')[0]} consystence-edge update install --file BUNDLE (the bundle must be readable by that account)`,
  );
}
