/** The built-in commands (CONTRACT §4). Each gets only the capability it needs from the session. */
import type { Clock } from '../clock.js';
import type { CommandRegistry } from './registry.js';

export interface BuiltinDeps {
  clock: Clock;
  resendStatus(): Promise<void>;
  rotateToken(): Promise<{ expiresAt: string }>;
  /** Ends the process so the service manager starts it again; the result is settled after the next boot. */
  requestRestart(): void;
}

export function registerBuiltinCommands(registry: CommandRegistry, deps: BuiltinDeps): CommandRegistry {
  return registry
    .register('ping', { run: async () => ({ pong: true, ts: new Date(deps.clock.now()).toISOString() }) })
    .register('resend-status', {
      run: async () => {
        await deps.resendStatus();
        return { resent: true };
      },
    })
    .register('rotate-token', { run: async () => deps.rotateToken() })
    .register('restart', {
      mode: 'after-restart',
      run: async () => {
        deps.requestRestart();
      },
    });
}
