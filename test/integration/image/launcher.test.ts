/**
 * The launcher (image/launcher/consystence-edge-launcher), run for real under dash and bash --posix with fake
 * binaries: which binary it picks, the trial start counter, the trial timer, rollback, power cuts (SIGKILL) inside a
 * rollback, a full disk, and hostile state.
 */
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mountTmpfs } from '../../helpers/files.js';
import { runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { FakeDevice, LAUNCHER } from './launcher-fixture.js';

const SHELLS: Array<[string, string[]]> = [
  ['dash', ['dash']],
  ['bash --posix', ['bash', '--posix']],
];

it('parses under dash and bash --posix', async () => {
  for (const [shell, args] of [
    ['dash', ['-n', LAUNCHER]],
    ['bash', ['--posix', '-n', LAUNCHER]],
  ] as const) {
    const result = await runToEnd(shell, [...args]);
    expect(result.code, `${shell}: ${result.stderr}`).toBe(0);
  }
  expect(readFileSync(LAUNCHER, 'utf8')).toMatch(/^#!\/bin\/sh\n/);
});

/** The state a completed rollback from 0.2.0 to 0.1.0 leaves, whatever was interrupted on the way. */
function expectRolledBack(device: FakeDevice, reason: string): void {
  expect(device.rollbackRecord()).toMatchObject({ from: '0.2.0', to: '0.1.0', reason });
  expect(Number(device.rollbackRecord()?.at_uptime)).toBeGreaterThanOrEqual(0);
  expect(readlinkSync(join(device.state, 'releases/current'))).toBe('0.1.0');
  expect(device.read('identity.db')).toBe('identity before the switch');
  expect(device.read('identity.db-wal')).toBeUndefined();
  expect(device.read('identity.db-shm')).toBeUndefined();
  expect(device.read('update/snapshot/identity.db')).toBeUndefined();
  expect(device.read('update/trial')).toBeUndefined();
  expect(device.read('update/trial-starts')).toBeUndefined();
}

/** A device that has just installed 0.2.0 over 0.1.0 and exited 75. */
function updatedDevice(newBehaviour: Parameters<FakeDevice['release']>[1], windowS = 120): FakeDevice {
  return new FakeDevice()
    .release('0.1.0')
    .release('0.2.0', newBehaviour)
    .link('current', '0.2.0')
    .link('previous', '0.1.0')
    .onTrial('0.2.0', '0.1.0', windowS);
}

describe.each(SHELLS)('the launcher under %s', (_name, shell) => {
  const start = (device: FakeDevice, options?: Parameters<FakeDevice['start']>[1]) => device.start(shell, options);

  it('runs the factory binary with its arguments when no release is installed', async () => {
    const device = new FakeDevice();
    const result = await start(device, { args: ['--json', 'a b'] });
    expect(result.code).toBe(0);
    expect(device.starts()).toEqual(['factory run --json a b']);
    expect(result.stderr).toBe('');
  });

  it('runs releases/current, and the state dir given by --state-dir', async () => {
    const device = new FakeDevice().release('0.2.0').link('current', '0.2.0');
    expect((await start(device)).code).toBe(0);
    expect(device.starts()).toEqual(['0.2.0 run']);
    // The environment names another state dir; --state-dir wins, as in the runtime (the fake logs to its own file).
    const elsewhere = new FakeDevice();
    await start(elsewhere, { args: ['--state-dir', device.state], env: { STARTS_LOG: device.startsLog } });
    expect(device.starts()).toEqual(['0.2.0 run', `0.2.0 run --state-dir ${device.state}`]);
  });

  it('falls back to previous, then the factory binary, when current is broken, and says why', async () => {
    const dangling = new FakeDevice().link('current', '0.3.0');
    let result = await start(dangling);
    expect(dangling.starts()).toEqual(['factory run']);
    expect(result.stderr).toContain('releases/current names 0.3.0, which has no runnable binary');

    const notExecutable = new FakeDevice().release('0.1.0').release('0.2.0').link('current', '0.2.0');
    notExecutable.link('previous', '0.1.0');
    chmodSync(join(notExecutable.state, 'releases/0.2.0/consystence-edge'), 0o644);
    result = await start(notExecutable);
    expect(notExecutable.starts()).toEqual(['0.1.0 run']);
    expect(result.stderr).toContain('releases/current names 0.2.0, which has no runnable binary');

    // No current at all is the factory binary (rolled back to it), even with a previous release around.
    const noCurrent = new FakeDevice().release('0.1.0').link('previous', '0.1.0');
    await start(noCurrent);
    expect(noCurrent.starts()).toEqual(['factory run']);
  });

  it('never follows current outside releases/, nor a release whose binary is a link', async () => {
    const outside = new FakeDevice();
    const evil = join(tempDir('cst-evil-'), 'consystence-edge');
    outside.writeBinary(evil, 'evil', { exit: 0 });
    symlinkSync(join(evil, '..'), join(outside.state, 'releases/current'));
    const result = await start(outside);
    expect(outside.starts()).toEqual(['factory run']);
    expect(result.stderr).toContain('is not a release name under releases/');

    const relative = new FakeDevice();
    symlinkSync('../../../../../../..', join(relative.state, 'releases/current'));
    await start(relative);
    expect(relative.starts()).toEqual(['factory run']);

    const linkedBinary = new FakeDevice();
    mkdirSync(join(linkedBinary.state, 'releases/0.2.0'));
    symlinkSync(evil, join(linkedBinary.state, 'releases/0.2.0/consystence-edge'));
    linkedBinary.link('current', '0.2.0');
    await start(linkedBinary);
    expect(linkedBinary.starts()).toEqual(['factory run']);
  });

  it('counts trial starts and rolls back after 3 failed ones: START_FAILED, snapshot restored', async () => {
    const device = updatedDevice({ exit: 1 });
    for (const n of [1, 2, 3]) {
      const result = await start(device);
      expect(result.code).toBe(1);
      expect(device.read('update/trial-starts')).toBe(`version=0.2.0\nstarts=${n}\n`);
      expect(result.stderr).toContain(`starting 0.2.0 on trial (start ${n} of 3`);
    }
    const fourth = await start(device);
    expect(fourth.code).toBe(0);
    expect(fourth.stderr).toContain('rolling back from 0.2.0 to 0.1.0: START_FAILED');
    expect(device.starts()).toEqual(['0.2.0 run', '0.2.0 run', '0.2.0 run', '0.1.0 run']);
    expectRolledBack(device, 'START_FAILED');
    // The old version runs from now on; it removes the record once it has reported.
    await start(device);
    expect(device.starts().at(-1)).toBe('0.1.0 run');
  });

  it('rolls back to the factory binary when previous is "factory"', async () => {
    const device = new FakeDevice().release('0.2.0', { exit: 1 }).link('current', '0.2.0').onTrial('0.2.0', 'factory');
    for (let n = 0; n < 4; n++) await start(device);
    expect(device.starts().at(-1)).toBe('factory run');
    expect(device.rollbackRecord()).toMatchObject({ from: '0.2.0', to: 'factory', reason: 'START_FAILED' });
    expect(device.read('releases/current')).toBeUndefined();
  });

  it('stops a trial that never commits (its own timer) and rolls back with TRIAL_TIMEOUT', async () => {
    const device = updatedDevice('hang', 1);
    const env = { CONSYSTENCE_EDGE_LAUNCHER_TRIAL_MARGIN_S: '1' };
    const running = start(device, { env, timeoutMs: 60_000 });
    // The exec'd binary keeps the launcher's PID and has no child: the timer was detached from it.
    const pid = await waitFor(() => device.hungPid(), { what: 'the hanging binary' });
    expect(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()).toBe('');
    const result = await running;
    expect(result.signal).toBe('SIGTERM');
    // Twice the 1 s window (room for blips of the link, which pause the engine's clock) and the 1 s margin.
    expect(result.stderr).toContain('trial of 0.2.0 not committed 3 s after start 1: stopping it');
    expect(device.rollbackRecord()).toMatchObject({ from: '0.2.0', to: '0.1.0', reason: 'TRIAL_TIMEOUT' });
    // The next start (Restart=always) finishes the rollback and runs the old version.
    await start(device, { env });
    expect(device.starts()).toEqual(['0.2.0 run', '0.1.0 run']);
    expectRolledBack(device, 'TRIAL_TIMEOUT');
  }, 90_000);

  it('leaves a committed trial alone: no rollback, the timer stops nothing', async () => {
    const device = updatedDevice('commit', 1);
    const result = await start(device, { env: { CONSYSTENCE_EDGE_LAUNCHER_TRIAL_MARGIN_S: '0' } });
    expect(result.code).toBe(0); // exited by itself after 4 s, after the timer fired at 1 s
    expect(device.rollbackRecord()).toBeUndefined();
    expect(device.read('update/last-trial')).toContain('version=0.2.0');
    await start(device);
    expect(device.starts()).toEqual(['0.2.0 run', '0.2.0 run']);
    expect(readlinkSync(join(device.state, 'releases/current'))).toBe('0.2.0');
  });

  it('finishes a rollback that a power cut (SIGKILL) interrupted at any step', async () => {
    // A fake `sync` on PATH kills the launcher (its parent) at its Nth call: the launcher syncs after every step.
    const bin = tempDir('cst-sync-');
    writeFileSync(
      join(bin, 'sync'),
      '#!/bin/sh\nn=$(($(cat "$SYNC_COUNT" 2>/dev/null || echo 0) + 1))\necho $n > "$SYNC_COUNT"\n' +
        '[ "$n" = "$KILL_AT_SYNC" ] && kill -KILL $PPID\nexit 0\n',
      { mode: 0o755 },
    );
    let steps = 0;
    for (let killAt = 1; ; killAt++) {
      const device = updatedDevice({ exit: 1 });
      device.path.push(bin);
      device.write('update/trial-starts', 'version=0.2.0\nstarts=3\n');
      const count = join(device.state, '..', 'sync-count');
      const cut = await start(device, { env: { SYNC_COUNT: count, KILL_AT_SYNC: String(killAt) } });
      if (cut.signal !== 'SIGKILL') {
        steps = killAt - 1;
        break;
      }
      expect(device.starts(), `cut at sync ${killAt}`).toEqual([]);
      const next = await start(device);
      expect(next.code, next.stderr).toBe(0);
      expect(device.starts(), `cut at sync ${killAt}`).toEqual(['0.1.0 run']);
      expectRolledBack(device, 'START_FAILED');
    }
    // record (file, dir), current, database, trial: every step was cut once.
    expect(steps).toBeGreaterThanOrEqual(5);
  }, 120_000);

  it('counts a trial whose update/trial-starts is garbage or a FIFO by replacing it, and rolls back after 3 starts', async () => {
    for (const plant of ['garbage', 'fifo'] as const) {
      const device = updatedDevice({ exit: 1 });
      const counter = join(device.state, 'update/trial-starts');
      if (plant === 'garbage') writeFileSync(counter, 'garbage\n\u0000\u0000xx');
      else await runToEnd('mkfifo', [counter]);
      for (const n of [1, 2, 3]) {
        const result = await start(device);
        expect(result.stderr, plant).toContain(`starting 0.2.0 on trial (start ${n} of 3`);
        expect(device.read('update/trial-starts'), plant).toBe(`version=0.2.0\nstarts=${n}\n`);
      }
      await start(device);
      expect(device.starts(), plant).toEqual(['0.2.0 run', '0.2.0 run', '0.2.0 run', '0.1.0 run']);
      expectRolledBack(device, 'START_FAILED');
    }
  });

  it('never runs a trial whose update/trial-starts is a directory or a link to one: it rolls back at once', async () => {
    for (const plant of ['directory', 'link to a directory'] as const) {
      const device = updatedDevice({ exit: 1 });
      const elsewhere = tempDir('cst-counter-dir-');
      if (plant === 'directory') mkdirSync(join(device.state, 'update/trial-starts'));
      else symlinkSync(elsewhere, join(device.state, 'update/trial-starts'));
      for (let n = 0; n < 4; n++) await start(device);
      expect(device.starts(), plant).toEqual(['0.1.0 run', '0.1.0 run', '0.1.0 run', '0.1.0 run']);
      expect(device.rollbackRecord()).toMatchObject({ from: '0.2.0', to: '0.1.0', reason: 'START_FAILED' });
      expect(readlinkSync(join(device.state, 'releases/current'))).toBe('0.1.0');
      expect(device.read('identity.db')).toBe('identity before the switch');
      expect(device.read('update/trial')).toBeUndefined();
      expect(readdirSync(elsewhere), plant).toEqual([]); // nothing written through the link
    }
  });

  it('runs the version rolled back to when it can write neither the counter, the record nor releases/current', async () => {
    // A fake `rm` that cannot remove releases/current (as on a damaged file system), and the counter and the
    // record are directories: nothing of the rollback sticks, yet the crashing trial must never run.
    const bin = tempDir('cst-rm-');
    writeFileSync(
      join(bin, 'rm'),
      '#!/bin/sh\nfor a; do case $a in */releases/current) exit 1 ;; esac; done\nexec /bin/rm "$@"\n',
      { mode: 0o755 },
    );
    const device = updatedDevice({ exit: 1 });
    device.path.push(bin);
    mkdirSync(join(device.state, 'update/trial-starts'));
    mkdirSync(join(device.state, 'update/rollback'));
    for (let n = 0; n < 4; n++) {
      const result = await start(device);
      expect(result.stderr).toContain('could not write update/rollback');
      expect(result.stderr).toContain('releases/current still names 0.2.0: update/trial is kept');
    }
    expect(device.starts()).toEqual(['0.1.0 run', '0.1.0 run', '0.1.0 run', '0.1.0 run']);
    expect(device.read('update/trial')).toContain('version=0.2.0');

    // The same with an unreadable update/trial (INVALID_TRIAL): it is not set aside while current names 0.2.0.
    const invalid = updatedDevice({ exit: 1 });
    invalid.path.push(bin);
    invalid.write('update/trial', 'garbage');
    for (let n = 0; n < 3; n++) await start(invalid);
    expect(invalid.starts()).toEqual(['0.1.0 run', '0.1.0 run', '0.1.0 run']);
    expect(invalid.read('update/trial')).toBe('garbage');
  });

  it('prints the reason of a rollback record it resumes only if it is a reason code', async () => {
    for (const [reason, shown] of [
      ['$(id)', 'resuming (unreadable reason)'],
      ['TRIAL_TIMEOUT', 'resuming (TRIAL_TIMEOUT)'],
    ]) {
      const device = updatedDevice({ exit: 1 });
      device.write('update/rollback', `from=0.2.0 to=0.1.0 reason=${reason} at_uptime=1\n`);
      const result = await start(device);
      expect(result.stderr).toContain(`rolling back from 0.2.0 to 0.1.0: ${shown}`);
      expect(result.stderr).not.toContain('$(id)');
      expect(device.starts()).toEqual(['0.1.0 run']);
    }
  });

  it('refuses garbage and a planted link as update/trial: back to previous with INVALID_TRIAL', async () => {
    const elsewhere = join(tempDir('cst-planted-'), 'trial');
    writeFileSync(elsewhere, 'version=0.2.0 previous=0.1.0 window_s=120 snapshot=update/snapshot/identity.db\n');
    const garbage = [
      'version=../../bin previous=0.1.0 window_s=120',
      'version=current previous=0.1.0 window_s=120',
      'version=0.2.0 previous=0.1.0 window_s=120 snapshot=update/snapshot/outbox.db',
      'version=0.2.0 previous=/usr/bin window_s=120',
      'version=0.2.0 previous=0.1.0 window_s=-1',
      'version=0.2.0 previous=0.1.0 window_s=120 snapshot=../../etc/shadow',
      '\u0000\u0001binary junk',
      'x'.repeat(5000),
    ];
    for (const content of [...garbage, null]) {
      const device = updatedDevice({ exit: 1 });
      if (content === null) {
        rmSync(join(device.state, 'update/trial'));
        symlinkSync(elsewhere, join(device.state, 'update/trial'));
      } else device.write('update/trial', content);
      const result = await start(device);
      expect(result.stderr, String(content)).toContain('update/trial is not a valid trial record');
      expect(device.starts(), String(content)).toEqual(['0.1.0 run']);
      expect(device.rollbackRecord()).toMatchObject({ from: '0.2.0', to: '0.1.0', reason: 'INVALID_TRIAL' });
      expect(device.read('identity.db')).toBe('identity before the switch');
      expect(device.read('update/trial')).toBeUndefined();
    }
    expect(readFileSync(elsewhere, 'utf8')).toContain('version=0.2.0'); // the link's target was left alone
  });

  it('never rolls a committed release back for a damaged update/trial: it keeps running, the file is set aside', async () => {
    const committed = () =>
      new FakeDevice().release('0.1.0').release('0.2.0').link('current', '0.2.0').link('previous', '0.1.0');
    const cases: Array<[string, FakeDevice, string]> = [
      ['committed', committed(), '0.2.0 was committed'],
      [
        'no previous',
        new FakeDevice().release('0.2.0').link('current', '0.2.0'),
        'releases/previous names no other version',
      ],
      [
        'previous = current',
        new FakeDevice().release('0.2.0').link('current', '0.2.0').link('previous', '0.2.0'),
        'releases/previous names no other version',
      ],
      [
        'previous unrunnable',
        new FakeDevice().release('0.2.0').link('current', '0.2.0').link('previous', '0.1.0'),
        'previous release 0.1.0 has no runnable binary',
      ],
      ['no current', new FakeDevice().release('0.1.0').link('previous', '0.1.0'), 'no release is current'],
    ];
    cases[0]![1].write(
      'update/last-trial',
      'version=0.2.0 previous=0.1.0 window_s=120 snapshot=update/snapshot/identity.db\n',
    );
    for (const [name, device, why] of cases) {
      device.write('update/trial', 'garbage\u0000');
      const result = await start(device);
      expect(result.stderr, name).toContain(`not rolling back (${why})`);
      expect(device.starts(), name).toEqual([name === 'no current' ? 'factory run' : '0.2.0 run']);
      expect(device.rollbackRecord(), name).toBeUndefined();
      expect(device.read('update/trial'), name).toBeUndefined();
      expect(device.read('update/trial.invalid'), name).toBe('garbage\u0000');
    }
  });

  it('says why it ignores a releases/current that is not a link', async () => {
    const device = new FakeDevice().release('0.1.0').link('previous', '0.1.0');
    writeFileSync(join(device.state, 'releases/current'), '0.1.0');
    const result = await start(device);
    expect(result.stderr).toContain('releases/current is not a link (the runtime only makes links there): ignored');
    expect(device.starts()).toEqual(['0.1.0 run']);
  });

  it('rolls back at once when the release on trial has no binary (MISSING_BINARY)', async () => {
    const device = updatedDevice({ exit: 0 });
    rmSync(join(device.state, 'releases/0.2.0/consystence-edge'));
    await start(device);
    expect(device.starts()).toEqual(['0.1.0 run']);
    expectRolledBack(device, 'MISSING_BINARY');
  });

  it('drops a trial whose switch never happened (current still names the old version)', async () => {
    const device = new FakeDevice().release('0.1.0').release('0.2.0').link('current', '0.1.0');
    device.onTrial('0.2.0', '0.1.0');
    const result = await start(device);
    expect(device.starts()).toEqual(['0.1.0 run']);
    expect(result.stderr).toContain('the switch did not happen');
    expect(device.read('update/trial')).toBeUndefined();
    expect(device.rollbackRecord()).toBeUndefined();
  });
});

describe('the launcher on a full disk', () => {
  it('rolls back instead of running an uncounted trial when the counter cannot be written', async (context) => {
    const tmpfs = mountTmpfs('1m');
    if (!tmpfs.dir) {
      console.log(`skipping the full-disk test: ${tmpfs.why}`);
      context.skip();
    }
    const device = new FakeDevice(tmpfs.dir)
      .release('0.1.0')
      .release('0.2.0', { exit: 1 })
      .link('current', '0.2.0')
      .link('previous', '0.1.0')
      .onTrial('0.2.0', '0.1.0');
    await runToEnd('sh', ['-c', `dd if=/dev/zero of=${join(tmpfs.dir!, 'filler')} bs=4k 2>/dev/null; exit 0`]);
    const result = await device.start(['dash']);
    expect(result.stderr).toContain('could not count start 1 of 0.2.0 (disk full');
    expect(result.stderr).toContain('could not write update/rollback');
    expect(device.starts()).toEqual(['0.1.0 run']);
    expect(readlinkSync(join(device.state, 'releases/current'))).toBe('0.1.0');
    expect(device.read('identity.db')).toBe('identity before the switch');
    expect(device.read('update/trial')).toBeUndefined();
  });
});
