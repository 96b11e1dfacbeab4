import { deviceStatus, pairDevice, waitPresence } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';

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
