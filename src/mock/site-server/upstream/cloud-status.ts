/**
 * How the site server's last call to the cloud went, told apart the way an operator must act on it (issue 12
 * item 9): `unreachable` (no answer, or 429/5xx: the site keeps running on its cached trust), `refused` (the cloud
 * answered and refused this server's token: a person must look), and `replaced` (another site server was
 * registered for this site: this one must stop). `/health` and the log say which; `replaced` ends the process.
 */
import { CloudError } from './cloud-client.js';

export type CloudState = 'ok' | 'unreachable' | 'refused' | 'replaced';

/** The mock site server's exit status after its registration was replaced (distinct from 1, a start-up failure). */
export const REPLACED_EXIT_CODE = 10;

export function classifyCloudFailure(error: unknown): Exclude<CloudState, 'ok'> {
  if (!(error instanceof CloudError) || error.status === undefined) return 'unreachable';
  if (error.code === 'SITE_SERVER_REPLACED') return 'replaced';
  if (error.status === 429 || error.status >= 500) return 'unreachable';
  return 'refused';
}

export interface CloudStatusView {
  state: CloudState;
  since: string;
  lastError: string | null;
}

export class CloudStatus {
  private view: CloudStatusView = { state: 'ok', since: new Date().toISOString(), lastError: null };
  private readonly replacedListeners = new Set<(message: string) => void>();

  get current(): CloudStatusView {
    return this.view;
  }

  /** Once replaced, always replaced: nothing the cloud says later makes this server the registered one again. */
  succeeded(): void {
    if (this.view.state !== 'ok' && this.view.state !== 'replaced')
      this.view = { state: 'ok', since: new Date().toISOString(), lastError: null };
  }

  failed(error: unknown): CloudState {
    if (this.view.state === 'replaced') return 'replaced';
    const state = classifyCloudFailure(error);
    const message = (error as Error).message;
    this.view = {
      state,
      since: state === this.view.state ? this.view.since : new Date().toISOString(),
      lastError: message,
    };
    if (state === 'replaced') for (const listener of this.replacedListeners) listener(message);
    return state;
  }

  onReplaced(listener: (message: string) => void): void {
    this.replacedListeners.add(listener);
  }
}
