/**
 * The real maintainer scripts (image/debian/postinst, prerm, postrm, shipped as is in the .deb) run as root against
 * a temporary root (DPKG_ROOT), inside a private mount namespace where the host's /etc and /var/lib are overlays:
 * whatever a script wrongly does to the host lands in the overlay's upper dir, where the test sees it, and never on
 * this machine. /run is a tmpfs with /run/systemd/system (a "running systemd"), and systemctl and
 * deb-systemd-invoke are recorders first in PATH, so a script calling the host's systemd is caught.
 *
 * postinst: a link planted by the service user must never make root chown or chmod its target; afterwards the
 * directory is root's and the service user can only read the pre-seeded pairing URI. Under DPKG_ROOT the service
 * user is created in the target, never on the host; postrm purge deletes only the target's directories.
 */
import {
  chownSync,
  copyFileSync,
  existsSync,
  linkSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

const NAME = 'consystence-edge';
const script = (name: 'postinst' | 'prerm' | 'postrm') => join(ROOT, 'image/debian', name);

const canRun =
  process.getuid?.() === 0 &&
  (await runToEnd('unshare', ['--mount', 'sh', '-c', overlayProbe()])).code === 0 &&
  !hasServiceUser();

function hasServiceUser(): boolean {
  return readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .some((line) => line.startsWith(`${NAME}:`));
}

function overlayProbe(): string {
  const work = tempDir('cst-postinst-probe-');
  mkdirSync(join(work, 'u'));
  mkdirSync(join(work, 'w'));
  return `mount --make-rprivate / && mount -t overlay overlay -o lowerdir=/etc,upperdir=${work}/u,workdir=${work}/w /etc`;
}

interface Install {
  /** The temporary root (DPKG_ROOT). */
  root: string;
  configDir: string;
  /** Outside the config dir: what a planted link points at, root-owned, 0644. */
  victim: string;
}

/** The service user's uid and gid in the target's passwd, or undefined when the target has none. */
function targetUser(install: Install): { uid: number; gid: number } | undefined {
  const line = readFileSync(join(install.root, 'etc/passwd'), 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${NAME}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function freshRoot(): Install {
  const root = tempDir('cst-postinst-');
  const configDir = join(root, 'etc', NAME);
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  mkdirSync(join(root, 'lib/systemd/system'), { recursive: true });
  copyFileSync(join(ROOT, `image/systemd/${NAME}.service`), join(root, `lib/systemd/system/${NAME}.service`));
  const victim = join(root, 'victim');
  writeFileSync(victim, 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o644 });
  return { root, configDir, victim };
}

/** The service user's uid (= gid) in an old target: the scripts must take it from the target's files, not the host's. */
const OLD_SVC_ID = 59_990;

/**
 * The layout earlier versions left: the service user exists in the target and owns the config dir, mode 0700.
 * Returns its uid (= gid).
 */
function oldLayout(install: Install): number {
  writeFileSync(
    join(install.root, 'etc/passwd'),
    `${NAME}:x:${OLD_SVC_ID}:${OLD_SVC_ID}::/var/lib/${NAME}:/usr/sbin/nologin\n`,
    { flag: 'a' },
  );
  writeFileSync(join(install.root, 'etc/group'), `${NAME}:x:${OLD_SVC_ID}:\n`, { flag: 'a' });
  chownSync(install.configDir, OLD_SVC_ID, OLD_SVC_ID);
  return OLD_SVC_ID;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What the script changed in the host's /etc and /var/lib (the overlays' upper dirs). */
  hostEtcChanges: string[];
  hostVarLibChanges: string[];
  /** Every call of the host's systemctl / deb-systemd-invoke. */
  hostSystemdCalls: string[];
  /** Whether the canary files in the host's /etc/consystence-edge and /var/lib/consystence-edge survived. */
  hostDirsKept: boolean;
}

/** Runs a maintainer script with DPKG_ROOT=install.root in a namespace that keeps this machine untouched. */
async function maintainerScript(
  install: Install,
  name: 'postinst' | 'prerm' | 'postrm',
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const work = tempDir('cst-postinst-ns-');
  for (const dir of ['etc-u', 'etc-w', 'lib-u', 'lib-w', 'bin']) mkdirSync(join(work, dir));
  const calls = join(work, 'calls');
  writeFileSync(calls, '');
  for (const tool of ['systemctl', 'deb-systemd-invoke'])
    writeFileSync(join(work, 'bin', tool), `#!/bin/sh\necho "${tool} $*" >> "${calls}"\n`, { mode: 0o755 });
  const commands = [
    'set -e',
    'mount --make-rprivate /',
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${work}/etc-u,workdir=${work}/etc-w /etc`,
    `mount -t overlay overlay -o lowerdir=/var/lib,upperdir=${work}/lib-u,workdir=${work}/lib-w /var/lib`,
    'mount -t tmpfs tmpfs /run',
    'mkdir -p /run/systemd/system',
    // The host's own directories of the same name, which only the target's may be affected.
    `mkdir -p /etc/${NAME} /var/lib/${NAME}`,
    `touch /etc/${NAME}/canary /var/lib/${NAME}/canary`,
    'code=0; sh "$SCRIPT" "$@" || code=$?',
    `if [ -e /etc/${NAME}/canary ] && [ -e /var/lib/${NAME}/canary ]; then echo HOST_DIRS_KEPT; fi`,
    `rm -rf /etc/${NAME} /var/lib/${NAME}`,
    'exit $code',
  ].join('\n');
  const result = await runToEnd('unshare', ['--mount', 'sh', '-c', commands, 'sh', ...args], {
    env: {
      PATH: `${join(work, 'bin')}:${process.env.PATH}`,
      SCRIPT: script(name),
      DPKG_ROOT: install.root,
      // What dpkg sets for a maintainer script; deb-systemd-helper refuses to run without it.
      DPKG_MAINTSCRIPT_PACKAGE: NAME,
      DPKG_MAINTSCRIPT_NAME: name,
      ...env,
    },
  });
  // The canaries and their dir are created and removed by the harness itself; whiteouts of them remain.
  const changes = (upper: string) => readdirSync(upper).filter((entry) => entry !== NAME);
  return {
    code: result.code,
    stdout: result.stdout,
    stderr: result.stderr,
    hostEtcChanges: changes(join(work, 'etc-u')),
    hostVarLibChanges: changes(join(work, 'lib-u')),
    hostSystemdCalls: readFileSync(calls, 'utf8').split('\n').filter(Boolean),
    hostDirsKept: result.stdout.includes('HOST_DIRS_KEPT'),
  };
}

async function postinst(install: Install, previousVersion = '', env: Record<string, string> = {}) {
  const result = await maintainerScript(install, 'postinst', ['configure', previousVersion], env);
  expect(result.code, result.stderr).toBe(0);
  return result;
}

const modeOf = (path: string) => lstatSync(path).mode & 0o7777;
const victimUntouched = (install: Install) => {
  const stat = statSync(install.victim);
  expect({ uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777 }).toEqual({ uid: 0, gid: 0, mode: 0o644 });
  expect(readFileSync(install.victim, 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n');
};
const rootOwnedConfigDir = (install: Install) => {
  const stat = lstatSync(install.configDir);
  expect({ dir: stat.isDirectory(), uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777 }).toEqual({
    dir: true,
    uid: 0,
    gid: targetUser(install)?.gid,
    mode: 0o750,
  });
};

describe.runIf(canRun)('postinst against planted files', () => {
  it('upgrade: removes a pairing-uri symlink the service user planted, without touching its target', async () => {
    const install = freshRoot();
    const svc = oldLayout(install);
    const link = join(install.configDir, 'pairing-uri');
    symlinkSync(install.victim, link);
    lchownSync(link, svc, svc);
    const planted = join(install.configDir, 'other');
    writeFileSync(planted, 'x');
    chownSync(planted, svc, svc);

    const { stderr } = await postinst(install, '0.1.0');

    victimUntouched(install);
    rootOwnedConfigDir(install);
    expect(lstatSync(link, { throwIfNoEntry: false })).toBeUndefined();
    expect(existsSync(planted)).toBe(false);
    expect(stderr).toMatch(/removing .*pairing-uri, which the service user had put there/);
  });

  it('never follows a hard link named pairing-uri to a root file (not chowned, not chmodded)', async () => {
    const install = freshRoot();
    oldLayout(install);
    linkSync(install.victim, join(install.configDir, 'pairing-uri'));
    await postinst(install, '0.1.0');
    victimUntouched(install);
    rootOwnedConfigDir(install);
  });

  it('leaves a symlink root put there alone, and its target too', async () => {
    const install = freshRoot();
    symlinkSync(install.victim, join(install.configDir, 'pairing-uri'));
    await postinst(install);
    victimUntouched(install);
    expect(lstatSync(join(install.configDir, 'pairing-uri')).isSymbolicLink()).toBe(true);
  });

  it('first install: a pairing URI root pre-seeded becomes readable by the service group, and nothing more', async () => {
    const install = freshRoot();
    const uri = join(install.configDir, 'pairing-uri');
    writeFileSync(uri, 'consystence-edge://pair?…\n', { mode: 0o600 });
    await postinst(install);
    rootOwnedConfigDir(install);
    const stat = lstatSync(uri);
    expect({ uid: stat.uid, gid: stat.gid, mode: modeOf(uri) }).toEqual({
      uid: 0,
      gid: targetUser(install)?.gid,
      mode: 0o640,
    });
    expect(readFileSync(uri, 'utf8')).toBe('consystence-edge://pair?…\n');
  });

  it('upgrade: a pre-seeded URI an earlier postinst handed to the service user is taken back by root', async () => {
    const install = freshRoot();
    const svc = oldLayout(install);
    const uri = join(install.configDir, 'pairing-uri');
    writeFileSync(uri, 'consystence-edge://pair?…\n', { mode: 0o600 });
    chownSync(uri, svc, svc);
    await postinst(install, '0.1.0');
    rootOwnedConfigDir(install);
    expect(lstatSync(uri).uid).toBe(0);
    expect(modeOf(uri)).toBe(0o640);
  });

  it('enables the unit inside DPKG_ROOT only', async () => {
    const install = freshRoot();
    const run = await postinst(install);
    expect(
      lstatSync(join(install.root, `etc/systemd/system/multi-user.target.wants/${NAME}.service`)).isSymbolicLink(),
    ).toBe(true);
    expect(run.hostSystemdCalls).toEqual([]);
  });

  it("creates the service user in the target, and never changes the host's users", async () => {
    const install = freshRoot();
    const run = await postinst(install);
    const user = targetUser(install);
    expect(user?.uid).toBeGreaterThan(0);
    expect(run.hostEtcChanges).toEqual([]);
    rootOwnedConfigDir(install);
  });
});

/**
 * The target's dpkg database with this package at `version` (what dpkg-query reads while postinst runs), and a state
 * dir owned by the service user with `releases/current` (and `previous`) pointing where the test says.
 */
function withOtaRelease(install: Install, packageVersion: string, current: string, previous = 'factory') {
  const svc = oldLayout(install);
  const admindir = join(install.root, 'var/lib/dpkg');
  mkdirSync(admindir, { recursive: true });
  writeFileSync(
    join(admindir, 'status'),
    `Package: ${NAME}\nStatus: install ok half-configured\nVersion: ${packageVersion}\nArchitecture: amd64\nMaintainer: x <x@example.com>\nDescription: x\n\n`,
  );
  const state = join(install.root, 'var/lib', NAME);
  const releases = join(state, 'releases');
  mkdirSync(join(releases, current), { recursive: true });
  writeFileSync(join(releases, current, NAME), '#!/bin/sh\n', { mode: 0o755 });
  symlinkSync(current, join(releases, 'current'));
  symlinkSync(previous, join(releases, 'previous'));
  for (const path of [state, releases, join(releases, current), join(releases, current, NAME)])
    chownSync(path, svc, svc);
  for (const link of ['current', 'previous']) lchownSync(join(releases, link), svc, svc);
  return { svc, state, releases, env: { DPKG_ADMINDIR: admindir } };
}

const linkOrNothing = (path: string) =>
  lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(path) : undefined;

describe.runIf(canRun)('postinst: a newer package supersedes an older over-the-air release', () => {
  it.each([
    ['0.2.0', '0.1.1-hil'],
    ['0.2.0', '0.2.0-rc.1'],
    ['0.2.0~rc.2', '0.2.0-rc.1'],
  ])('package %s retires releases/current -> %s (the launcher runs the packaged binary)', async (pkg, ota) => {
    const install = freshRoot();
    const { releases, env } = withOtaRelease(install, pkg, ota);
    const run = await postinst(install, '0.1.0', env);
    expect(linkOrNothing(join(releases, 'current'))).toBeUndefined();
    expect(linkOrNothing(join(releases, 'previous'))).toBeUndefined();
    // The release itself stays (the runtime prunes releases); only the links that made the launcher pick it go.
    expect(existsSync(join(releases, ota, NAME))).toBe(true);
    expect(run.stdout).toContain(`package ${pkg} is newer than the over-the-air release ${ota}`);
  });

  it.each([
    ['0.2.0', '0.3.0'],
    ['0.2.0', '0.2.0'],
    ['0.2.0~rc.1', '0.2.0'],
  ])('package %s leaves a release that is not older (current -> %s) alone', async (pkg, ota) => {
    const install = freshRoot();
    const { releases, env } = withOtaRelease(install, pkg, ota, '0.1.0');
    const run = await postinst(install, '0.1.0', env);
    expect(linkOrNothing(join(releases, 'current'))).toBe(ota);
    expect(linkOrNothing(join(releases, 'previous'))).toBe('0.1.0');
    expect(run.stdout).not.toContain('newer than the over-the-air release');
  });

  it('never follows a releases/ that the service user replaced with a link', async () => {
    const install = freshRoot();
    const { svc, state, releases, env } = withOtaRelease(install, '0.2.0', '0.1.0');
    const elsewhere = join(install.root, 'elsewhere');
    renameSync(releases, elsewhere);
    symlinkSync(elsewhere, releases);
    lchownSync(releases, svc, svc);
    await postinst(install, '0.1.0', env);
    expect(linkOrNothing(join(elsewhere, 'current'))).toBe('0.1.0');
    expect(linkOrNothing(join(elsewhere, 'previous'))).toBe('factory');
    expect(lstatSync(join(state, 'releases')).isSymbolicLink()).toBe(true);
  });

  it('leaves a current that is not a link to a release name alone (a link out of releases/, a directory)', async () => {
    const install = freshRoot();
    const { svc, releases, env } = withOtaRelease(install, '0.2.0', '0.1.0');
    rmSync(join(releases, 'current'));
    symlinkSync('../../../../victim', join(releases, 'current'));
    lchownSync(join(releases, 'current'), svc, svc);
    const run = await postinst(install, '0.1.0', env);
    expect(linkOrNothing(join(releases, 'current'))).toBe('../../../../victim');
    expect(run.stderr).toContain('not a release name; left alone');
    victimUntouched(install);

    rmSync(join(releases, 'current'));
    mkdirSync(join(releases, 'current'));
    await postinst(install, '0.1.0', env);
    expect(lstatSync(join(releases, 'current')).isDirectory()).toBe(true);
    expect(linkOrNothing(join(releases, 'previous'))).toBe('factory');
  });

  it('leaves a current link owned by another user alone', async () => {
    const install = freshRoot();
    const { releases, env } = withOtaRelease(install, '0.2.0', '0.1.0');
    lchownSync(join(releases, 'current'), 4242, 4242);
    await postinst(install, '0.1.0', env);
    expect(linkOrNothing(join(releases, 'current'))).toBe('0.1.0');
  });
});

describe.runIf(canRun)('prerm and postrm under DPKG_ROOT', () => {
  it("postrm purge deletes the target's state and config dirs, never the host's", async () => {
    const install = freshRoot();
    const state = join(install.root, 'var/lib', NAME);
    mkdirSync(state, { recursive: true });
    const run = await maintainerScript(install, 'postrm', ['purge']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.hostDirsKept).toBe(true);
    expect(existsSync(state)).toBe(false);
    expect(existsSync(install.configDir)).toBe(false);
    expect(run.hostVarLibChanges).toEqual([]);
  });

  it.each([
    ['prerm', 'remove'],
    ['postrm', 'remove'],
    ['postrm', 'purge'],
  ] as const)("%s %s never calls the host's systemctl or deb-systemd-invoke", async (name, action) => {
    const run = await maintainerScript(freshRoot(), name, [action]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.hostSystemdCalls).toEqual([]);
  });
});

describe.skipIf(canRun)('maintainer scripts (skipped)', () => {
  it('needs root, unshare --mount, overlayfs and no consystence-edge user on this machine', () => {
    console.log(
      'maintainer-script tests skipped: they run the real scripts as root in a private mount namespace (unshare --mount, overlayfs over /etc and /var/lib) and need this machine to have no consystence-edge user',
    );
  });
});
