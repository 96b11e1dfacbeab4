/**
 * `npm run release`: makes a signed release bundle (layout in src/protocol/release.ts).
 *
 *   npm run release -- --arch x64|arm64 --key FILE [--binary out/consystence-edge-linux-<arch>] [--version V]
 *                      [--unchecked-version] [--notes TEXT] [--out DIR]
 *   npm run release -- --kind model --name NAME --version V --key FILE [--notes TEXT] [--out DIR] FILE|DIR…
 *
 * Runtime: the compiled binary, gzipped; its version from `out/build-info.json` (the record of that binary,
 * checked by sha256) unless `--version` says otherwise. Either way the binary's ELF machine must be `--arch` and the
 * version it reports itself must be the bundle's (binary-checks.ts); `--unchecked-version` signs a binary that
 * cannot be run here, `--unchecked-arch` one for another architecture (only the HIL wrong-arch scenario wants it).
 * Model: a gzipped ustar of the files (a directory adds the files under it, with paths relative to it; a file goes
 * in under its own name), each listed in the manifest with its size and sha256. `createdAt` honours
 * SOURCE_DATE_EPOCH. The bundle is written to `<out>/<name>-<version>-<arch>.bundle` (default out: `out/releases`),
 * never over an existing file.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { packTar } from '../../src/common/tar/ustar.js';
import { writeBundle } from '../../src/protocol/release-bundle.js';
import {
  ModelFile,
  RELEASE_JWS_TYPE,
  ReleaseArch,
  ReleaseManifest,
  ReleaseName,
  ReleaseVersion,
  verifyReleaseManifest,
} from '../../src/protocol/release.js';
import { BUILD_INFO, binaryName } from '../build/targets.js';
import { checkArch, checkVersion } from './binary-checks.js';
import { publicHalf, readPrivateKey, ROOT, runMain, signJws, sourceDateTime, UsageError } from './lib.js';

const USAGE = `usage:
  npm run release -- --arch x64|arm64 --key FILE [--binary FILE] [--version V] [--unchecked-version] [--notes TEXT]
                     [--out DIR]
  npm run release -- --kind model --name NAME --version V --key FILE [--notes TEXT] [--out DIR] FILE|DIR...`;

const RUNTIME_NAME = 'consystence-edge';

interface Unchecked {
  version: boolean;
  arch: boolean;
}

interface Artifact {
  /** What the payload is; size, sha256, compression and createdAt are added once it is compressed. */
  manifest: Pick<ReleaseManifest, 'kind' | 'name' | 'version' | 'arch' | 'installedSize' | 'files'>;
  /** Uncompressed: the binary, or the ustar of the model's files. */
  payload: Buffer;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function check<T>(
  flag: string,
  schema: { safeParse(v: unknown): { success: boolean; data?: T } },
  value: string,
  expected: string,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new UsageError(`--${flag} must be ${expected} (got ${JSON.stringify(value.slice(0, 80))})\n${USAGE}`);
  return parsed.data as T;
}

/** The version build-binary recorded for this very binary (same sha256), or a usage error saying to pass one. */
function recordedVersion(binary: string, arch: ReleaseArch, digest: string): string {
  let info: { binaries?: Record<string, { version?: string; sha256?: string }> };
  try {
    info = JSON.parse(readFileSync(join(ROOT, 'out', BUILD_INFO), 'utf8'));
  } catch {
    throw new UsageError(`no out/${BUILD_INFO} to take the version from; pass --version\n${USAGE}`);
  }
  const record = info.binaries?.[arch];
  if (!record?.version || record.sha256 !== digest)
    throw new UsageError(
      `out/${BUILD_INFO} does not describe ${binary} (another build?); rebuild it or pass --version\n${USAGE}`,
    );
  return record.version;
}

function runtimeArtifact(values: Record<string, string | undefined>, unchecked: Unchecked): Artifact {
  if (values.name) throw new UsageError(`--name is for models; a runtime is always ${RUNTIME_NAME}\n${USAGE}`);
  if (!values.arch) throw new UsageError(`--arch x64|arm64 is required\n${USAGE}`);
  const arch = check<ReleaseArch>('arch', ReleaseArch, values.arch, 'x64 or arm64');
  const binary = resolve(values.binary ?? join(ROOT, 'out', binaryName(arch)));
  const stat = lstatSync(binary, { throwIfNoEntry: false });
  if (!stat?.isFile())
    throw new UsageError(`--binary ${binary} is not a regular file (run npm run build:binary first?)\n${USAGE}`);
  const payload = readFileSync(binary);
  const version = values.version
    ? check<string>('version', ReleaseVersion, values.version, 'a version such as 1.4.0')
    : recordedVersion(binary, arch, sha256(payload));
  if (!unchecked.arch) checkArch(binary, payload, arch);
  checkVersion(binary, arch, version, unchecked.version);
  return { manifest: { kind: 'runtime', name: RUNTIME_NAME, version, arch, installedSize: payload.length }, payload };
}

/** The files to put in a model bundle: each FILE under its own name, each DIR's regular files under their path. */
function modelFiles(paths: string[]): Array<{ path: string; source: string }> {
  const found: Array<{ path: string; source: string }> = [];
  const walk = (dir: string, root: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full, root);
      else if (entry.isFile()) found.push({ path: relative(root, full), source: full });
      else throw new UsageError(`${full} is not a regular file or folder (links are not packed)`);
    }
  };
  for (const path of paths) {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat?.isDirectory()) walk(path, path);
    else if (stat?.isFile()) found.push({ path: basename(path), source: path });
    else throw new UsageError(`${path} is not a regular file or folder\n${USAGE}`);
  }
  const seen = new Set<string>();
  for (const file of found) {
    if (!ModelFile.shape.path.safeParse(file.path).success)
      throw new UsageError(`cannot pack ${JSON.stringify(file.path)}: names are letters, digits, _ . - and /`);
    if (seen.has(file.path)) throw new UsageError(`two files would be packed as ${file.path}`);
    seen.add(file.path);
  }
  return found;
}

function modelArtifact(values: Record<string, string | undefined>, paths: string[], createdAt: string): Artifact {
  if (values.arch || values.binary) throw new UsageError(`--arch and --binary are for runtime releases\n${USAGE}`);
  if (!values.name || !values.version) throw new UsageError(`a model needs --name and --version\n${USAGE}`);
  if (paths.length === 0) throw new UsageError(`name the model's files or folder\n${USAGE}`);
  const name = check<string>('name', ReleaseName, values.name, 'lowercase letters, digits and dashes');
  const version = check<string>('version', ReleaseVersion, values.version, 'a version such as 1.4.0');
  const entries = modelFiles(paths).map((f) => ({ name: f.path, data: readFileSync(f.source), mode: 0o644 }));
  const files = entries.map((e) => ({ path: e.name, size: e.data.length, sha256: sha256(e.data) }));
  const installedSize = files.reduce((sum, f) => sum + f.size, 0);
  if (installedSize === 0) throw new UsageError('the model files are all empty');
  const payload = packTar(entries, new Date(createdAt));
  return { manifest: { kind: 'model', name, version, arch: 'any', installedSize, files }, payload };
}

runMain(async () => {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      options: {
        kind: { type: 'string' },
        arch: { type: 'string' },
        key: { type: 'string' },
        binary: { type: 'string' },
        name: { type: 'string' },
        version: { type: 'string' },
        notes: { type: 'string' },
        out: { type: 'string' },
        'unchecked-version': { type: 'boolean' },
        'unchecked-arch': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const values = parsed.values as Record<string, string | undefined>;
  const kind = values.kind ?? 'runtime';
  if (kind !== 'runtime' && kind !== 'model') throw new UsageError(`--kind must be runtime or model\n${USAGE}`);
  if (kind === 'runtime' && parsed.positionals.length)
    throw new UsageError(`unexpected ${JSON.stringify(parsed.positionals[0])}: files are for --kind model\n${USAGE}`);
  if (!values.key) throw new UsageError(`--key FILE (the private release key) is required\n${USAGE}`);
  const key = readPrivateKey(values.key);
  const createdAt = sourceDateTime();

  const { manifest: partial, payload } =
    kind === 'model'
      ? modelArtifact(values, parsed.positionals, createdAt)
      : runtimeArtifact(values, {
          version: parsed.values['unchecked-version'] === true,
          arch: parsed.values['unchecked-arch'] === true,
        });
  // gzip's header carries no name and mtime 0 here, so the same input and time give the same bundle.
  const artifact = gzipSync(payload, { level: 9 });
  const checked = ReleaseManifest.safeParse({
    ...partial,
    size: artifact.length,
    sha256: sha256(artifact),
    compression: 'gzip',
    createdAt,
    ...(values.notes !== undefined ? { notes: values.notes } : {}),
  });
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new UsageError(`the manifest would be invalid: ${issue?.path.join('.')} ${issue?.message}`);
  }
  const manifest = checked.data;
  const jws = await signJws(key, RELEASE_JWS_TYPE, manifest);
  // Verify with the public half before writing: a bundle that nothing could verify is never produced.
  await verifyReleaseManifest(jws, [publicHalf(key)]);

  const out = resolve(values.out ?? join(ROOT, 'out', 'releases'));
  mkdirSync(out, { recursive: true });
  const file = join(out, `${manifest.name}-${manifest.version}-${manifest.arch}.bundle`);
  try {
    await writeBundle(file, jws, artifact);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  console.log(
    `${file}\n  ${manifest.kind} ${manifest.name} ${manifest.version} (${manifest.arch}), artifact ${manifest.size} bytes sha256 ${manifest.sha256}, signed by ${key.kid}`,
  );
});
