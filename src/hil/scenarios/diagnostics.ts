/**
 * Remote diagnostics through the site server, as a site operator would use them: the device answers `doctor`
 * over P/cmd, and uploads a support bundle on request. The bundle must hold every part a support engineer
 * needs, and no secret: not the pairing code the device was paired with, nor anything shaped like a token, a
 * private key or a JWK's `d` (the rig does not know the device's token or key; the pattern catches them all).
 */
import { unpackTarGz } from '../../common/tar/ustar.js';
import { pullSupportBundle } from '../bed/support-bundle.js';
import { check, checkEqual } from '../scenario-kit/errors.js';
import { mintPairingUri, pairDevice, startAndWaitOnline } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';

const PARTS = ['manifest.json', 'version.json', 'status.json', 'doctor.json', 'integrity.json', 'config.json']
  .concat(['outbox.json', 'system.json', 'logs/edge.log'])
  .map((name) => `consystence-edge-support/${name}`);

const SECRET_SHAPES: Array<[string, RegExp]> = [
  ['a JWT (token)', /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/],
  ['a PEM private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["a private JWK's d", /"d"\s*:\s*"[A-Za-z0-9_-]{20,}"/],
];

export const diagnostics: Scenario = {
  id: 'diagnostics',
  title: 'the site asks the device for doctor and a support bundle; the bundle is complete and holds no secret',
  timeoutS: 150,
  async run(ctx) {
    const uri = await mintPairingUri(ctx);
    const code = new URL(uri).searchParams.get('code') ?? '';
    check(code.length >= 8, `the pairing URI carries a code (${uri.replace(/code=[^&]+/, 'code=…')})`);
    await pairDevice(ctx, { uri });
    await startAndWaitOnline(ctx);

    let started = Date.now();
    const doctor = await ctx.site.control.command(ctx.edgeId, 'doctor', { timeoutMs: 30_000 });
    ctx.figure('doctorMs', Date.now() - started);
    checkEqual(doctor.status, 200, `doctor answer (${JSON.stringify(doctor.body).slice(0, 300)})`);
    const report = (doctor.body.result as { ok?: boolean; result?: { checks?: Array<{ name: string; ok: boolean }> } })
      ?.result;
    const database = report?.checks?.find((c) => c.name === 'database');
    checkEqual(database?.ok, true, `doctor's database check (${JSON.stringify(report).slice(0, 300)})`);

    started = Date.now();
    const bundle = await pullSupportBundle(ctx.site.control, ctx.edgeId, { since: '1h', timeoutMs: 60_000 });
    ctx.figure('supportBundleMs', Date.now() - started);
    ctx.figure('supportBundleBytes', bundle.data.length);
    ctx.note(`support bundle ${bundle.id}: ${bundle.data.length} bytes`);
    const files = unpackTarGz(bundle.data);
    for (const part of PARTS)
      check(files.has(part), `the bundle holds ${part} (it has ${[...files.keys()].join(', ')})`);
    const status = JSON.parse(files.get('consystence-edge-support/status.json')!.toString('utf8')) as {
      edgeId?: string;
    };
    checkEqual(status.edgeId, ctx.edgeId, 'status.json edgeId');
    check(
      files.get('consystence-edge-support/logs/edge.log')!.length > 0,
      "the bundle's log holds the service's recent lines",
    );

    const text = [...files.values()].map((b) => b.toString('utf8')).join('\n');
    const normalised = code.toUpperCase().replace(/-/g, '');
    check(!text.includes(code) && !text.includes(normalised), 'the pairing code must not be in the bundle');
    for (const [what, shape] of SECRET_SHAPES) check(!shape.test(text), `${what} must not be in the bundle`);
  },
};
