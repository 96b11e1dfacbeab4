/**
 * JUnit XML, the format every CI server and rig dashboard reads: one <testsuite> per run, one <testcase> per
 * scenario iteration, <failure> when the device did the wrong thing, <error> when the rig itself broke,
 * <skipped message> with the reason, figures and steps in <system-out>, diagnostics in <system-err>. A scenario
 * that ran only in part carries a `partial` property and a `PARTIAL:` line, so it cannot pass silently; the
 * device's version, sha256 and arch are suite properties.
 */
import { hostname } from 'node:os';
import { totals, type RunReport, type ScenarioResult } from './types.js';

/** Characters XML 1.0 forbids even escaped (control characters from a device's output). */
const INVALID_XML = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlEscape(text: string): string {
  return text
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** CDATA cannot contain "]]>": split it across two sections. */
function cdata(text: string): string {
  return `<![CDATA[${text.replace(INVALID_XML, '\uFFFD').replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

function testcase(result: ScenarioResult, target: string): string {
  const name = result.iteration > 1 ? `${result.id} #${result.iteration}` : result.id;
  const attrs = `name="${xmlEscape(name)}" classname="consystence-hil.${xmlEscape(target)}" time="${seconds(result.durationMs)}"`;
  const inner: string[] = [];
  const partial = result.partial ?? [];
  if (partial.length)
    inner.push(`<properties><property name="partial" value="${xmlEscape(partial.join('; '))}"/></properties>`);
  const message = xmlEscape((result.message ?? '').split('\n')[0]!.slice(0, 1000));
  if (result.outcome === 'failed')
    inner.push(
      `<failure message="${message}" type="${xmlEscape(result.errorType ?? 'Failure')}">${cdata(result.message ?? '')}</failure>`,
    );
  if (result.outcome === 'error')
    inner.push(
      `<error message="${message}" type="${xmlEscape(result.errorType ?? 'Error')}">${cdata(result.message ?? '')}</error>`,
    );
  if (result.outcome === 'skipped') inner.push(`<skipped message="${message}"/>`);
  const out = [
    `${result.title}`,
    ...Object.entries(result.figures).map(([k, v]) => `figure ${k} = ${JSON.stringify(v)}`),
    ...partial.map((reason) => `PARTIAL: ${reason}`),
    ...result.notes,
  ];
  inner.push(`<system-out>${cdata(out.join('\n'))}</system-out>`);
  if (result.diagnostics) {
    inner.push(
      `<system-err>${cdata(
        Object.entries(result.diagnostics)
          .map(([k, v]) => `===== ${k}\n${v}`)
          .join('\n'),
      )}</system-err>`,
    );
  }
  return `    <testcase ${attrs}>\n      ${inner.join('\n      ')}\n    </testcase>`;
}

export function toJUnitXml(report: RunReport): string {
  const t = totals(report);
  const counts = `tests="${t.total}" failures="${t.failed}" errors="${t.error}" skipped="${t.skipped}" time="${seconds(report.durationMs)}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="consystence-hil" ${counts}>`,
    `  <testsuite name="consystence-hil.${xmlEscape(report.target)}" ${counts} timestamp="${xmlEscape(report.startedAt)}" hostname="${xmlEscape(hostname())}">`,
    '    <properties>',
    `      <property name="target" value="${xmlEscape(report.target)}"/>`,
    `      <property name="device" value="${xmlEscape(report.targetDescription)}"/>`,
    ...Object.entries(report.device ?? {}).map(
      ([key, value]) => `      <property name="device.${key}" value="${xmlEscape(String(value))}"/>`,
    ),
    '    </properties>',
    ...report.results.map((r) => testcase(r, report.target)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
