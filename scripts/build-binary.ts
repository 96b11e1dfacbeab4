/**
 * Compiles the edge CLI into one self-contained executable per device architecture:
 *
 *   npm run build:binary [-- --arch x64|arm64|all] [--entry src/edge/main.ts] [--out-dir out]
 *                           [--release-keys FILE]
 *
 * Output: `<out-dir>/consystence-edge-linux-<arch>` and `<out-dir>/build-info.json` (version, build time, size,
 * sha256, Bun version, whether bytecode was used). Runs under Bun because it needs `Bun.build` plugins (see
 * `nodeOnlyStub`). Set SOURCE_DATE_EPOCH to pin the embedded build time (reproducible builds).
 *
 * `--release-keys FILE` embeds that trusted release-key set (`{"sequence":N,"keys":[{kid,jwk}]}`, production) instead
 * of the committed development one; build-info.json records `trust: development|custom` and `version` prints it.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { BunPlugin } from 'bun';
import { BUILT_IN_RELEASE_KEYS } from '../src/protocol/built-in-release-keys.js';
import { ReleaseVersion, TrustedReleaseKeySet } from '../src/protocol/release.js';
import { HIL_FAULTS, type HilFault } from '../src/edge/hil-faults.js';
import { bunRuntimeFor, type Runtime } from './build/bun-runtime.js';
import { binaryCommand } from './build/run-binary.js';
import {
  BUILD_INFO,
  ROOT,
  binaryName,
  packageVersion,
  parseArches,
  parseFlags,
  runMain,
  sourceDateTime,
  UsageError,
  type Arch,
} from './build/targets.js';

const USAGE =
  'usage: bun scripts/build-binary.ts [--arch x64|arm64|all] [--entry src/edge/main.ts] [--out-dir out] [--release-keys FILE]\n' +
  '       [--version V --out-suffix -S] [--hil-faults crash-at-start|never-online]   (test builds for the HIL OTA scenarios)';

/**
 * better-sqlite3 is the storage driver for Node only; the binary uses bun:sqlite. Marking it `external` is not
 * enough: in ESM output Bun hoists the external `import` of the lazily loaded Node driver to the top of the bundle,
 * and the binary dies at start with "Cannot find package 'better-sqlite3'". So it resolves to a stub whose
 * constructor throws: nothing runs unless the Node driver is (wrongly) used, and then the error says why.
 */
const nodeOnlyStub: BunPlugin = {
  name: 'node-only-stub',
  setup(build) {
    build.onResolve({ filter: /^better-sqlite3$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    build.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => ({
      loader: 'js',
      contents: `export default class NodeOnly { constructor() { throw new Error(${JSON.stringify(`${args.path} is not in the compiled binary, which uses bun:sqlite`)}); } }`,
    }));
  },
};

/**
 * The built-in release keys (`src/protocol/built-in-release-keys.ts` imports `keys/release-keys.json`) replaced by
 * a production set at bundling time: the development public key is then not in the binary at all.
 */
function releaseKeysFrom(contents: string): BunPlugin {
  return {
    name: 'release-keys',
    setup(build) {
      build.onLoad({ filter: /[\\/]keys[\\/]release-keys\.json$/ }, () => ({ loader: 'json', contents }));
    },
  };
}

/** Reads and checks `--release-keys FILE`: a malformed or development set must not become a "custom" build. */
function readReleaseKeys(path: string): string {
  let set: TrustedReleaseKeySet;
  try {
    set = TrustedReleaseKeySet.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (error) {
    throw new UsageError(
      `--release-keys ${path} is not a trusted key set ({"sequence":N,"keys":[{kid,jwk}]}): ${(error as Error).message.slice(0, 300)}\n${USAGE}`,
    );
  }
  const development = new Set(BUILT_IN_RELEASE_KEYS.keys.map((k) => k.jwk.x));
  if (set.keys.some((k) => development.has(k.jwk.x)))
    throw new UsageError(
      `--release-keys ${path} contains the development key: its private half is public; leave the flag out for a development build`,
    );
  return JSON.stringify(set);
}

interface BinaryInfo {
  file: string;
  version: string;
  buildTime: string;
  bytes: number;
  sha256: string;
  bytecode: boolean;
  bytecodeFallbackReason?: string;
  runtime: string;
  smokeTest: string;
  /** Which release keys the binary trusts: the committed development key, or a set given with --release-keys. */
  trust: 'development' | 'custom';
}

async function compile(
  entry: string,
  outfile: string,
  arch: Arch,
  runtime: Runtime,
  bytecode: boolean,
  define: Record<string, string>,
  plugins: BunPlugin[],
): Promise<void> {
  const result = await Bun.build({
    entrypoints: [entry],
    compile: {
      target: arch === 'x64' ? 'bun-linux-x64' : 'bun-linux-arm64',
      outfile,
      ...(runtime.executablePath ? { executablePath: runtime.executablePath } : {}),
      // A device's cwd must not change its behaviour: no .env or bunfig.toml picked up at run time.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
    minify: true,
    // Bytecode roughly halves cold start (toolchain probe: 119 → 46 ms); with top-level await it needs ESM.
    bytecode,
    format: 'esm',
    define,
    plugins,
    throw: false,
  });
  if (!result.success) throw new Error(result.logs.map(String).join('\n') || 'Bun.build failed without a message');
}

/**
 * Runs `<binary> version` from an empty folder with a bare environment: a binary that builds but cannot start
 * (the failure mode of a bad bytecode or bundling change) must fail the build, not the device.
 */
function smokeTest(file: string, arch: Arch, version: string, trust: string): string {
  const runner = binaryCommand(file, arch, ['version']);
  if ('cannot' in runner) return `skipped: ${runner.cannot}`;
  const { command, args } = runner;
  const cwd = mkdtempSync(join(tmpdir(), 'cst-smoke-'));
  try {
    const run = spawnSync(command, args, {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (run.status !== 0 || !run.stdout.includes(version) || !run.stdout.includes(`release keys: ${trust}`)) {
      throw new Error(
        `smoke test \`${relative(ROOT, file)} version\` failed (exit ${run.status ?? run.signal}): ${(run.stderr || run.stdout).trim().slice(0, 2000)}`,
      );
    }
    return runner.via === 'directly' ? 'passed' : `passed ${runner.via}`;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

async function buildOne(
  arch: Arch,
  entry: string,
  outDir: string,
  version: string,
  buildTime: string,
  releaseKeys: string | undefined,
  variant: BuildVariant,
): Promise<BinaryInfo> {
  const outfile = join(outDir, binaryName(arch) + variant.suffix);
  // Build beside the final name and rename at the end: a failed build never leaves a half-written binary behind.
  const partial = `${outfile}.partial`;
  const runtime = bunRuntimeFor(arch, Bun.version);
  const trust = releaseKeys === undefined ? 'development' : 'custom';
  const define = {
    __CST_VERSION__: JSON.stringify(version),
    __CST_BUILD_TIME__: JSON.stringify(buildTime),
    __CST_RELEASE_TRUST__: JSON.stringify(trust),
    // Never a run-time switch: a production build has no fault at all (src/edge/hil-faults.ts).
    __CST_HIL_FAULT__: variant.hilFault ? JSON.stringify(variant.hilFault) : 'undefined',
  };
  const plugins = releaseKeys === undefined ? [nodeOnlyStub] : [nodeOnlyStub, releaseKeysFrom(releaseKeys)];
  let bytecode = true;
  let bytecodeFallbackReason: string | undefined;
  let smoke: string;
  try {
    await compile(entry, partial, arch, runtime, true, define, plugins);
    smoke = smokeTest(partial, arch, version, trust);
  } catch (error) {
    bytecode = false;
    bytecodeFallbackReason = (error as Error).message;
    console.warn(`${arch}: the bytecode build failed, building without bytecode. Reason:\n${bytecodeFallbackReason}`);
    await compile(entry, partial, arch, runtime, false, define, plugins);
    smoke = smokeTest(partial, arch, version, trust);
  }
  renameSync(partial, outfile);
  const info: BinaryInfo = {
    file: binaryName(arch) + variant.suffix,
    version,
    buildTime,
    bytes: statSync(outfile).size,
    sha256: createHash('sha256').update(readFileSync(outfile)).digest('hex'),
    bytecode,
    ...(bytecodeFallbackReason ? { bytecodeFallbackReason } : {}),
    runtime: runtime.source,
    smokeTest: smoke,
    trust,
  };
  console.log(
    `${arch}: ${relative(ROOT, outfile)} ${(info.bytes / 2 ** 20).toFixed(1)} MiB sha256 ${info.sha256} bytecode=${bytecode} release keys ${trust} smoke test ${smoke}`,
  );
  return info;
}

/**
 * A second build for the HIL OTA scenarios: another version number, a suffix on the file name (and its own
 * build-info, so the packaged binary's record is never replaced by a test build), optionally a fault built in.
 */
interface BuildVariant {
  suffix: string;
  hilFault?: HilFault;
}

function parseVariant(flags: { version: string; 'out-suffix': string; 'hil-faults': string }): BuildVariant {
  const suffix = flags['out-suffix'];
  if (!/^(-[a-z0-9.]+)?$/.test(suffix)) throw new UsageError(`--out-suffix must look like -hil\n${USAGE}`);
  const testBuild = flags.version !== '' || flags['hil-faults'] !== '';
  if (testBuild && suffix === '')
    throw new UsageError(`--version and --hil-faults make a test build: give it an --out-suffix\n${USAGE}`);
  if (flags['hil-faults'] === '') return { suffix };
  const fault = HIL_FAULTS.find((name) => name === flags['hil-faults']);
  if (!fault) throw new UsageError(`--hil-faults is one of ${HIL_FAULTS.join(', ')}\n${USAGE}`);
  return { suffix, hilFault: fault };
}

/** Merges into an existing build-info.json, so building one arch keeps the other arch's record. */
function writeBuildInfo(outDir: string, built: Partial<Record<Arch, BinaryInfo>>, suffix: string): void {
  const path = join(outDir, BUILD_INFO.replace(/\.json$/, `${suffix}.json`));
  const previous = existsSync(path)
    ? (JSON.parse(readFileSync(path, 'utf8')) as { binaries?: Record<string, BinaryInfo> })
    : {};
  const binaries = { ...previous.binaries, ...built };
  writeFileSync(`${path}.partial`, `${JSON.stringify({ bun: Bun.version, binaries }, null, 2)}\n`);
  renameSync(`${path}.partial`, path);
}

runMain(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    {
      arch: 'all',
      entry: 'src/edge/main.ts',
      'out-dir': 'out',
      'release-keys': '',
      version: '',
      'out-suffix': '',
      'hil-faults': '',
    },
    USAGE,
  );
  if (typeof Bun === 'undefined') throw new UsageError(`this script uses Bun.build; run it with Bun\n${USAGE}`);
  const arches = parseArches(flags.arch);
  const entry = resolve(ROOT, flags.entry);
  if (!existsSync(entry)) throw new UsageError(`entry ${entry} does not exist\n${USAGE}`);
  const outDir = resolve(ROOT, flags['out-dir']);
  mkdirSync(outDir, { recursive: true });
  const variant = parseVariant(flags);
  const version = flags.version || packageVersion();
  if (!ReleaseVersion.safeParse(version).success)
    throw new UsageError(`--version ${version} is not a release version (it names a folder on the device)\n${USAGE}`);
  const buildTime = sourceDateTime();
  const releaseKeys = flags['release-keys'] ? readReleaseKeys(resolve(flags['release-keys'])) : undefined;
  const built: Partial<Record<Arch, BinaryInfo>> = {};
  for (const arch of arches)
    built[arch] = await buildOne(arch, entry, outDir, version, buildTime, releaseKeys, variant);
  writeBuildInfo(outDir, built, variant.suffix);
});
