/**
 * Global flags before the command, as git and systemctl users write them: a real CLI process. They mean what they
 * mean after it; anything else before the command is one plain line and exit 2, never the full help.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandFor, runToEnd } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';

const { command, args } = commandFor('node', 'src/edge/main.ts');
const cli = (...argv: string[]) =>
  runToEnd(command, [...args, ...argv], { env: { CONSYSTENCE_EDGE_HARDWARE_ID: testHardwareId('global-flags') } });

/** A state dir whose releases/current names 0.2.0, so that reading it (and not the default) shows. */
function stateDirWithRelease(): string {
  const stateDir = tempDir('cst-global-flags-');
  mkdirSync(join(stateDir, 'releases/0.2.0'), { recursive: true, mode: 0o700 });
  writeFileSync(join(stateDir, 'releases/0.2.0/consystence-edge'), '#!/bin/sh\n', { mode: 0o755 });
  symlinkSync('0.2.0', join(stateDir, 'releases/current'));
  return stateDir;
}

describe('global flags before the command', () => {
  it('reads the state dir given before the command, in both spellings, with --json', async () => {
    const stateDir = stateDirWithRelease();
    const before = await cli('--state-dir', stateDir, '--json', 'update', 'status');
    const inline = await cli(`--state-dir=${stateDir}`, 'update', 'status', '--json');
    const after = await cli('update', 'status', '--json', '--state-dir', stateDir);
    expect(before.code, before.stderr).toBe(0);
    expect(inline.stdout).toBe(before.stdout);
    expect(after.stdout).toBe(before.stdout);
    expect(JSON.stringify(JSON.parse(before.stdout).current)).toContain('0.2.0');
  });

  it('refuses a command flag or an unknown word before the command in one line, exit 2, without the help', async () => {
    for (const argv of [['--yes', 'update', 'status'], ['frob'], ['--state-dir']]) {
      const result = await cli(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(result.stderr, argv.join(' ')).not.toContain('global flags:');
      expect(result.stdout).toBe('');
    }
    expect((await cli('--yes', 'update')).stderr).toContain("'--yes' is not a global flag");
    expect((await cli('--state-dir')).stderr).toContain('--state-dir needs a value');
  });
});
