/**
 * Where an edge finds its site server, as the cloud knows it now (issue 17): the API URL, the MQTT URL and the CA
 * bundle the broker's certificate chains to. The cloud stays the source of truth; a device learns a change from
 * the token-refresh answer, and accepts it only when the new edge token's `cfg` claim is the hash of exactly what
 * it received (`siteConnectionHash`), so nothing outside the cloud's signature can redirect a device.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const HttpUrl = z.url({ protocol: /^https?$/ }).max(2048);
export const MqttUrl = z.url({ protocol: /^mqtts?$/ }).max(2048);

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** At most this many CAs at once: the current one and the one replacing it, with room for an intermediate each. */
export const MAX_SITE_CAS = 4;

/**
 * One or more PEM certificates (a bundle). During a CA rotation the bundle holds the old and the new CA; a device
 * trusts every certificate in it until the site withdraws the old one.
 */
export const CaBundlePem = z
  .string()
  .max(65_536)
  .regex(/-----BEGIN CERTIFICATE-----/)
  .refine((pem) => splitCaBundle(pem).length <= MAX_SITE_CAS, `at most ${MAX_SITE_CAS} certificates`);

/** The certificates of a bundle, one PEM string each (what TLS `ca` takes on Node and Bun alike). */
export function splitCaBundle(pem: string): string[] {
  return pem.match(CERT_BLOCK) ?? [];
}

export const SiteConnection = z.strictObject({
  url: HttpUrl,
  mqtt: z.strictObject({ url: MqttUrl, caCertificatePem: CaBundlePem.optional() }),
});
export type SiteConnection = z.infer<typeof SiteConnection>;

/** The `cfg` claim's shape: base64url of a SHA-256. */
export const ConnectionHash = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

/**
 * base64url(SHA-256) of the connection in canonical form: fixed key order, no whitespace, absent fields left out.
 * The cloud and every device compute it the same way from the parsed object, so JSON formatting never matters.
 */
export function siteConnectionHash(connection: SiteConnection): string {
  const canonical = JSON.stringify({
    mqtt: {
      ...(connection.mqtt.caCertificatePem !== undefined ? { caCertificatePem: connection.mqtt.caCertificatePem } : {}),
      url: connection.mqtt.url,
    },
    url: connection.url,
  });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** True when two connections would make a device dial and trust exactly the same things. */
export const sameSiteConnection = (a: SiteConnection, b: SiteConnection): boolean =>
  siteConnectionHash(a) === siteConnectionHash(b);
