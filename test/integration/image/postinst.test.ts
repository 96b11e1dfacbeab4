/**
 * The real postinst (image/debian/postinst, shipped as is in the .deb) run as root against what the service user
 * could have left in /etc/consystence-edge while an earlier version let it write there. It installs into a
 * temporary root (DPKG_ROOT), inside a private mount namespace where /etc/passwd and /etc/group are copies that
 * know the service user: nothing on this machine is changed and no system user is created.
 *
 * A link planted by the service user must never make root chown or chmod its target; afterwards the directory is
 * root's and the service user can only read the pre-seeded pairing URI.
 */
import {
  chownSync,
  copyFileSync,
  existsSync,
  linkSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

const NAME = 'consystence-edge';
const POSTINST = join(ROOT, 'image/debian/postinst');

/** A uid/gid free in this machine's passwd and group, for the service user inside the namespace. */
function freeId(): number {
  const used = new Set(
    [readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8')].flatMap((text) =>
      text.split('\n').map((line) => Number(line.split(':')[2])),
    ),
  );
  let id = 59_990;
  while (used.has(id)) id++;
  return id;
}

const canRun =
  process.getuid?.() === 0 && (await runToEnd('unshare', ['--mount', 'true'])).code === 0 && !hasServiceUser();

function hasServiceUser(): boolean {
  return readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .some((line) => line.startsWith(`${NAME}:`));
}

interface Install {
  /** The temporary root (DPKG_ROOT). */
  root: string;
  configDir: string;
  /** Outside the config dir: what a planted link points at, root-owned, 0644. */
  victim: string;
  svc: number;
}

function freshRoot(): Install {
  const root = tempDir('cst-postinst-');
  const configDir = join(root, 'etc', NAME);
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(root, 'lib/systemd/system'), { recursive: true });
  copyFileSync(join(ROOT, `image/systemd/${NAME}.service`), join(root, `lib/systemd/system/${NAME}.service`));
  const victim = join(root, 'victim');
  writeFileSync(victim, 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o644 });
  return { root, configDir, victim, svc: freeId() };
}

/** The layout earlier versions left: the config dir owned by the service user, mode 0700. */
function oldLayout(install: Install): void {
  chownSync(install.configDir, install.svc, install.svc);
}

async function postinst(install: Install, previousVersion = '') {
  const work = tempDir('cst-postinst-ns-');
  const passwd = join(work, 'passwd');
  const group = join(work, 'group');
  writeFileSync(
    passwd,
    `${readFileSync('/etc/passwd', 'utf8')}${NAME}:x:${install.svc}:${install.svc}::/var/lib/${NAME}:/usr/sbin/nologin\n`,
  );
  writeFileSync(group, `${readFileSync('/etc/group', 'utf8')}${NAME}:x:${install.svc}:\n`);
  const script = [
    'set -e',
    'mount --make-rprivate /',
    'mount --bind "$PASSWD" /etc/passwd',
    'mount --bind "$GROUP" /etc/group',
    'exec sh "$POSTINST" configure "$PREVIOUS"',
  ].join('\n');
  const result = await runToEnd('unshare', ['--mount', 'sh', '-c', script], {
    env: {
      PASSWD: passwd,
      GROUP: group,
      POSTINST,
      PREVIOUS: previousVersion,
      DPKG_ROOT: install.root,
      // What dpkg sets for a maintainer script; deb-systemd-helper refuses to run without it.
      DPKG_MAINTSCRIPT_PACKAGE: NAME,
      DPKG_MAINTSCRIPT_NAME: 'postinst',
    },
  });
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
    gid: install.svc,
    mode: 0o750,
  });
};

describe.runIf(canRun)('postinst against planted files', () => {
  it('upgrade: removes a pairing-uri symlink the service user planted, without touching its target', async () => {
    const install = freshRoot();
    oldLayout(install);
    const link = join(install.configDir, 'pairing-uri');
    symlinkSync(install.victim, link);
    lchownSync(link, install.svc, install.svc);
    const planted = join(install.configDir, 'other');
    writeFileSync(planted, 'x');
    chownSync(planted, install.svc, install.svc);

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
    expect({ uid: stat.uid, gid: stat.gid, mode: modeOf(uri) }).toEqual({ uid: 0, gid: install.svc, mode: 0o640 });
    expect(readFileSync(uri, 'utf8')).toBe('consystence-edge://pair?…\n');
  });

  it('upgrade: a pre-seeded URI an earlier postinst handed to the service user is taken back by root', async () => {
    const install = freshRoot();
    oldLayout(install);
    const uri = join(install.configDir, 'pairing-uri');
    writeFileSync(uri, 'consystence-edge://pair?…\n', { mode: 0o600 });
    chownSync(uri, install.svc, install.svc);
    await postinst(install, '0.1.0');
    rootOwnedConfigDir(install);
    expect(lstatSync(uri).uid).toBe(0);
    expect(modeOf(uri)).toBe(0o640);
  });

  it('enables the unit inside DPKG_ROOT only', async () => {
    const install = freshRoot();
    await postinst(install);
    expect(
      lstatSync(join(install.root, `etc/systemd/system/multi-user.target.wants/${NAME}.service`)).isSymbolicLink(),
    ).toBe(true);
  });
});

describe.skipIf(canRun)('postinst against planted files (skipped)', () => {
  it('needs root, unshare --mount and no consystence-edge user on this machine', () => {
    console.log(
      'postinst tests skipped: they run the real script as root in a private mount namespace (unshare --mount) and need this machine to have no consystence-edge user',
    );
  });
});
