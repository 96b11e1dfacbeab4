import { isIP } from 'node:net';
import { Hostname } from '../../protocol/index.js';

/**
 * Command templates for remote devices, e.g. `ssh -tt root@{host} consystence-edge {args}`. Placeholders:
 * `{host}` (from --remote-host: a host name or an IP address, checked and quoted, so `--remote-host 'x; rm -rf ~'`
 * cannot run anything) and `{args}` (the edge CLI arguments, each quoted for a POSIX shell). The rig never
 * puts the pairing URI (with its `&`) into `{args}`: it goes over stdin (`pair --uri -`), so a template that adds
 * a second shell (ssh does) cannot break it.
 */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A host name (RFC 1123 letters, digits, dots, hyphens) or an IPv4/IPv6 address; nothing a shell would act on. */
export function isRemoteHost(host: string): boolean {
  return isIP(host) !== 0 || Hostname.safeParse(host).success;
}

export function renderTemplate(template: string, values: { host?: string; args: string[] }): string {
  if (!template.includes('{args}')) throw new Error(`the command template must contain {args}: ${template}`);
  if (template.includes('{host}') && !values.host)
    throw new Error('the command template uses {host}: pass --remote-host');
  if (values.host !== undefined && !isRemoteHost(values.host))
    throw new Error(`--remote-host must be a host name or an IP address, not ${JSON.stringify(values.host)}`);
  return template
    .replaceAll('{host}', values.host === undefined ? '' : shellQuote(values.host))
    .replaceAll('{args}', values.args.map(shellQuote).join(' '));
}
