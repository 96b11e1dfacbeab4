/**
 * A board without an RTC battery boots in the past (here 2001, through libfaketime): the device must still
 * pair (it corrects its clock from the cloud's answers) and come online, since the site server checks token
 * times against real time. Skipped where the clock cannot be shifted (remote devices, qemu, no libfaketime).
 */
import { check } from '../scenario/errors.js';
import { deviceStatus, pairDevice, waitPresence } from '../scenario/steps.js';
import type { Scenario } from '../scenario/types.js';

export const clockInPast: Scenario = {
  id: 'clock-in-past',
  title: 'a clock far in the past at boot: the device still comes online',
  timeoutS: 120,
  requires: { capabilities: ['clockInPast'] },
  async run(ctx) {
    await pairDevice(ctx, { clockInPast: true });
    const started = Date.now();
    await ctx.device.start({ clockInPast: true });
    await waitPresence(ctx, 'online', { timeoutMs: 60_000, sinceMs: started - 1000 });
    ctx.figure('timeToOnlineMs', Date.now() - started);
    const status = await deviceStatus(ctx);
    ctx.figure('clockSkewMs', typeof status.clockSkewMs === 'number' ? status.clockSkewMs : null);
  },
};
