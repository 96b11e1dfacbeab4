/**
 * What to do with a P/config push: a pure decision over (running config, payload), so every case is unit
 * tested without a broker. Newer version → apply (the patch merged over the running config); same or older →
 * ignore and re-report what runs; invalid → reject with the reason and keep what runs. A reset (`resetFrom`) is
 * applied whatever its version when `resetFrom` names the running version, and ignored otherwise.
 */
import { ConfigPush, describeIssues, MAX_PAYLOAD_BYTES, parsePayload } from '../../protocol/index.js';
import { RuntimeConfig, type VersionedConfig } from '../stores/config-store.js';

export type ConfigDecision =
  | { kind: 'apply'; next: VersionedConfig; patch: unknown }
  | { kind: 'ignore'; current: VersionedConfig }
  | { kind: 'reject'; version: number; reason: string };

export function decideConfigPush(current: VersionedConfig, payload: Uint8Array | string): ConfigDecision {
  const parsed = parsePayload(ConfigPush, payload);
  if (!parsed.ok) return { kind: 'reject', version: readableVersion(payload) ?? current.version, reason: parsed.error };
  const push = parsed.value;
  const accepted = push.resetFrom === undefined ? push.version > current.version : push.resetFrom === current.version;
  if (!accepted) return { kind: 'ignore', current };
  const merged = {
    ...current.config,
    ...(push.config.heartbeatSeconds !== undefined ? { heartbeatSeconds: push.config.heartbeatSeconds } : {}),
    ...(push.config.metricsSeconds !== undefined ? { metricsSeconds: push.config.metricsSeconds } : {}),
    buffer: { ...current.config.buffer, ...push.config.buffer },
    ...(push.config.logs ? { logs: { ...current.config.logs, ...push.config.logs } } : {}),
    ...(push.config.update ? { update: { ...current.config.update, ...push.config.update } } : {}),
  };
  const checked = RuntimeConfig.safeParse(merged);
  if (!checked.success)
    return {
      kind: 'reject',
      version: push.version,
      reason: describeIssues(checked.error.issues),
    };
  return { kind: 'apply', next: { version: push.version, config: checked.data }, patch: push.config };
}

/** The version of an invalid push, if one can be read, so the rejection names what it rejects. */
function readableVersion(payload: Uint8Array | string): number | null {
  // Never parse what the size cap already refused.
  if ((typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength) > MAX_PAYLOAD_BYTES) return null;
  try {
    const value = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')) as {
      version?: unknown;
    };
    return typeof value?.version === 'number' &&
      Number.isInteger(value.version) &&
      value.version >= 0 &&
      value.version < 2 ** 53
      ? value.version
      : null;
  } catch {
    return null;
  }
}
