/**
 * Pulls a support bundle from a device through the site server (the `support-bundle` command, then a download),
 * checked against the sha256 the edge reported. Used by the `diagnostics` scenario and, after any failed
 * scenario, by the runner, which names the saved file in the JUnit report: a rig engineer's first question is
 * "what did the device say".
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SiteControlClient } from './site-control.js';

export interface PulledBundle {
  id: string;
  data: Buffer;
  /** What the site answered, for a failure message. */
  answer: string;
}

export async function pullSupportBundle(
  control: SiteControlClient,
  edgeId: string,
  options: { since?: string; timeoutMs?: number } = {},
): Promise<PulledBundle> {
  const { status, body } = await control.supportBundle(edgeId, options);
  const answer = `${status} ${JSON.stringify(body).slice(0, 600)}`;
  if (status !== 200 || !body.bundle) throw new Error(`the device did not upload a support bundle: ${answer}`);
  const data = await control.downloadSupportBundle(edgeId, body.bundle.id);
  const sha256 = createHash('sha256').update(data).digest('hex');
  if (sha256 !== body.bundle.sha256)
    throw new Error(`the downloaded bundle's sha256 ${sha256} is not the uploaded ${body.bundle.sha256}`);
  return { id: body.bundle.id, data, answer };
}

/** Pulls a bundle into `dir` (made if needed) and returns the file's path. */
export async function saveSupportBundle(
  control: SiteControlClient,
  edgeId: string,
  dir: string,
  label: string,
  timeoutMs: number,
): Promise<string> {
  const bundle = await pullSupportBundle(control, edgeId, { timeoutMs });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${label.replace(/[^A-Za-z0-9._-]+/g, '-')}-${edgeId}.tar.gz`);
  writeFileSync(file, bundle.data, { mode: 0o600 });
  return file;
}
