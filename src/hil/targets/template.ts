/**
 * Command templates for remote devices, e.g. `ssh -tt root@{host} consystence-edge {args}`. Placeholders:
 * `{host}` (from --remote-host) and `{args}` (the edge CLI arguments, each quoted for a POSIX shell). The rig never
 * puts the pairing URI (with its `&`) into `{args}`: it goes over stdin (`pair --uri -`), so a template that adds
 * a second shell (ssh does) cannot break it.
 */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function renderTemplate(template: string, values: { host?: string; args: string[] }): string {
  if (!template.includes('{args}')) throw new Error(`the command template must contain {args}: ${template}`);
  if (template.includes('{host}') && !values.host)
    throw new Error('the command template uses {host}: pass --remote-host');
  return template.replaceAll('{host}', values.host ?? '').replaceAll('{args}', values.args.map(shellQuote).join(' '));
}
