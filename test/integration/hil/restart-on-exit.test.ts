/**
 * HIL's restart-on-exit (src/hil/targets/restart-on-exit.ts): the real launcher, started again after every exit like
 * systemd's Restart=always. A fake factory binary installs a release and exits 75, as the update engine does; the
 * next start must be the new release, on trial.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { RestartOnExit } from '../../../src/hil/targets/restart-on-exit.js';
import { tempDir } from '../../helpers/tmp.js';

let supervised: RestartOnExit | undefined;
afterEach(async () => {
  await supervised?.terminate('SIGKILL');
});

function script(file: string, body: string): void {
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

it('restarts after exit 75 into the release the factory binary installed, through the launcher', async () => {
  const work = tempDir('cst-restart-');
  const state = join(work, 'state');
  mkdirSync(join(state, 'update'), { recursive: true });
  const factory = join(work, 'factory');
  script(
    factory,
    `mkdir -p "$STATE/releases/0.2.0"
cp "$NEW_RELEASE" "$STATE/releases/0.2.0/consystence-edge"
echo 'version=0.2.0 previous=factory window_s=600' > "$STATE/update/trial"
ln -s 0.2.0 "$STATE/releases/current"
echo '{"event":"factory_exits","code":75}'
exit 75`,
  );
  const release = join(work, 'release');
  script(release, `echo "{\\"event\\":\\"release_running\\",\\"args\\":\\"$*\\"}"\nexec sleep 600`);
  supervised = new RestartOnExit(factory, ['run', '--state-dir', state], {
    ...process.env,
    STATE: state,
    NEW_RELEASE: release,
  });
  const line = await supervised.waitForJson((l) => l.event === 'release_running', 30_000, 'the new release');
  expect(line.args).toBe(`run --state-dir ${state}`);
  expect(supervised.starts).toBe(2);
  expect(supervised.jsonLines()[0]).toEqual({ event: 'factory_exits', code: 75 });
  expect(supervised.stderr.join('\n')).toContain('starting 0.2.0 on trial (start 1 of 3');
  expect(supervised.exitInfo).toBeNull();
  const exit = await supervised.terminate('SIGTERM');
  expect(exit.signal).toBe('SIGTERM');
  expect(supervised.exitInfo).toEqual(exit);
});

it('gives up after the bounded number of restarts, like a start limit', async () => {
  const work = tempDir('cst-restart-');
  const factory = join(work, 'factory');
  script(factory, 'echo \'{"event":"crash"}\'\nexit 1');
  supervised = new RestartOnExit(factory, ['run', '--state-dir', join(work, 'state')], process.env, {
    delayMs: 10,
    maxRestarts: 2,
  });
  await expect(supervised.waitForJson(() => false, 30_000, 'nothing')).rejects.toThrow('stopped restarting');
  expect(supervised.starts).toBe(3);
  expect(supervised.exitInfo).toEqual({ code: 1, signal: null });
});
