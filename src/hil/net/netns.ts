/**
 * A network namespace for the device under test, joined to the rig by a veth pair: the device's only way to
 * the mocks is that link, so cutting it (`ip link set … down`) is a real partition, and `tc netem` on the rig's
 * end adds latency and loss to everything the device receives. Linux, root and iproute2 only; everything made
 * here is named uniquely and deleted in `remove()` (deleting the namespace also deletes the veth pair).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { runCommand } from '../../common/process/process.js';
import type { LinkShaper } from '../scenario-kit/types.js';

const IP = '/usr/sbin/ip';
const TC = '/usr/sbin/tc';
const CMD_TIMEOUT_MS = 10_000;

export interface DeviceNamespace {
  name: string;
  /** The rig's end of the link: the mocks listen here. */
  hostIfName: string;
  hostAddress: string;
  deviceAddress: string;
  shaper: LinkShaper;
  remove(): Promise<void>;
}

/** Why a namespace cannot be made here, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'network namespaces need root (run the rig as root, or give --net-down-cmd/--net-up-cmd)';
  if (!existsSync(IP)) return `${IP} is missing (apt-get install -y iproute2)`;
  return undefined;
}

/** netem is a kernel module; minimal VM kernels (Firecracker, some CI runners) do not have it. */
export class ImpairmentUnavailable extends Error {
  override readonly name = 'ImpairmentUnavailable';
}

async function run(command: string, args: string[]): Promise<void> {
  const result = await runCommand(command, args, { timeoutMs: CMD_TIMEOUT_MS });
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
}

export async function createDeviceNamespace(): Promise<DeviceNamespace> {
  const id = randomBytes(3).toString('hex');
  const name = `hil-${id}`;
  const hostIfName = `hv${id}`;
  const nsIfName = `nv${id}`;
  // A /30 in 10.231/16 picked at random: two rigs on one machine would only clash if they drew the same one.
  const block = randomBytes(2);
  const third = block[0]!;
  const fourth = block[1]! & 0xfc;
  const hostAddress = `10.231.${third}.${fourth + 1}`;
  const deviceAddress = `10.231.${third}.${fourth + 2}`;
  await run(IP, ['netns', 'add', name]);
  const remove = async () => {
    await runCommand(IP, ['link', 'del', hostIfName], { timeoutMs: CMD_TIMEOUT_MS }).catch(() => undefined);
    await runCommand(IP, ['netns', 'del', name], { timeoutMs: CMD_TIMEOUT_MS });
  };
  try {
    await run(IP, ['link', 'add', hostIfName, 'type', 'veth', 'peer', 'name', nsIfName]);
    await run(IP, ['link', 'set', nsIfName, 'netns', name]);
    await run(IP, ['addr', 'add', `${hostAddress}/30`, 'dev', hostIfName]);
    await run(IP, ['link', 'set', hostIfName, 'up']);
    await run(IP, ['-n', name, 'addr', 'add', `${deviceAddress}/30`, 'dev', nsIfName]);
    await run(IP, ['-n', name, 'link', 'set', nsIfName, 'up']);
    // The edge's producer API and anything else on loopback inside the namespace need lo up.
    await run(IP, ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    await remove().catch(() => undefined);
    throw error;
  }
  const shaper: LinkShaper = {
    async impair({ delayMs = 0, jitterMs = 0, lossPercent = 0 }) {
      if (!existsSync(TC)) throw new Error(`${TC} is missing (apt-get install -y iproute2)`);
      const result = await runCommand(
        TC,
        [
          'qdisc',
          'replace',
          'dev',
          hostIfName,
          'root',
          'netem',
          'delay',
          `${delayMs}ms`,
          `${jitterMs}ms`,
          'loss',
          `${lossPercent}%`,
        ],
        { timeoutMs: CMD_TIMEOUT_MS },
      );
      if (result.code !== 0 && /qdisc kind is unknown/i.test(result.stderr))
        throw new ImpairmentUnavailable(
          'this kernel has no netem qdisc (sch_netem), so latency and loss cannot be added',
        );
      if (result.code !== 0) throw new Error(`tc netem failed (exit ${result.code}): ${result.stderr.trim()}`);
    },
    async clear() {
      await runCommand(TC, ['qdisc', 'del', 'dev', hostIfName, 'root'], { timeoutMs: CMD_TIMEOUT_MS });
    },
  };
  return { name, hostIfName, hostAddress, deviceAddress, shaper, remove };
}
