/**
 * Issue 12.7: node-machine-id answers with the host name when neither /var/lib/dbus/machine-id nor /etc/machine-id
 * exists, so identically imaged devices would share one hardware id. Real files in temp folders stand in for the
 * two machine-id paths.
 */
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/log/log.js';
import { createEdgeRuntime } from '../../../src/edge/runtime.js';
import { formatDoctor } from '../../../src/edge/status/doctor.js';
import { tempDir } from '../../helpers/tmp.js';

const noMachineId = () => {
  const dir = tempDir();
  return [join(dir, 'var-lib-dbus-machine-id'), join(dir, 'etc-machine-id')];
};

describe('hardware id without a machine id', () => {
  it('uses a random id kept in the state folder, the same on every start, and doctor warns', async () => {
    const stateDir = tempDir();
    const machineIdFiles = noMachineId();
    const first = await createEdgeRuntime({ stateDir, logger: silentLogger, machineIdFiles });
    first.close();
    const stored = readFileSync(join(stateDir, 'machine-id'), 'utf8').trim();
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(first.hardwareId).toBe(stored);
    expect(statSync(join(stateDir, 'machine-id')).mode & 0o777).toBe(0o600);

    const again = await createEdgeRuntime({ stateDir, logger: silentLogger, machineIdFiles });
    expect(again.hardwareId).toBe(stored);
    const checks = await again.doctor();
    again.close();
    const row = checks.find((c) => c.name === 'hardware-id')!;
    expect(row).toMatchObject({ ok: true, level: 'warn' });
    expect(formatDoctor(checks)).toMatch(
      /WARN {2}hardware-id +this system has no \/etc\/machine-id; using the random id/,
    );
  });

  it('a read-only command does not create the id', async () => {
    const stateDir = tempDir();
    const runtime = await createEdgeRuntime({
      stateDir,
      logger: silentLogger,
      machineIdFiles: noMachineId(),
      readOnly: true,
    });
    expect(runtime.hardware).toMatchObject({ source: 'state-dir', provisional: true });
    runtime.close();
    expect(existsSync(join(stateDir, 'machine-id'))).toBe(false);
  });

  it('uses the machine id when one of the files has it, and no stand-in is made', async () => {
    const [dbus, etc] = noMachineId();
    writeFileSync(etc!, '0123456789abcdef0123456789abcdef\n');
    const stateDir = tempDir();
    const runtime = await createEdgeRuntime({ stateDir, logger: silentLogger, machineIdFiles: [dbus!, etc!] });
    runtime.close();
    // node-machine-id reads the real /etc/machine-id of this machine: the source is what matters here.
    expect(runtime.hardware.source).toBe('machine-id');
    expect(existsSync(join(stateDir, 'machine-id'))).toBe(false);
  });

  it('refuses a stand-in id file that is a link', async () => {
    const stateDir = tempDir();
    const elsewhere = join(tempDir(), 'id');
    writeFileSync(elsewhere, `${'a'.repeat(64)}\n`);
    symlinkSync(elsewhere, join(stateDir, 'machine-id'));
    await expect(createEdgeRuntime({ stateDir, logger: silentLogger, machineIdFiles: noMachineId() })).rejects.toThrow(
      /machine-id is a symbolic link/,
    );
  });
});
