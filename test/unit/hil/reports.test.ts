/** The report writers: JUnit XML structure, escaping, counts; the JSON summary's figures and outcome. */
import { describe, expect, it } from 'vitest';
import { toJUnitXml, xmlEscape } from '../../../src/hil/report/junit.js';
import { toJsonSummary } from '../../../src/hil/report/json.js';
import type { RunReport } from '../../../src/hil/report/types.js';

const report: RunReport = {
  target: 'local-node',
  targetDescription: 'local-node',
  startedAt: '2025-06-01T00:00:00.000Z',
  durationMs: 12_345,
  results: [
    {
      id: 'first-pairing',
      title: 'first pairing',
      iteration: 1,
      outcome: 'passed',
      durationMs: 1500,
      figures: { timeToOnlineMs: 800 },
      notes: ['paired'],
    },
    {
      id: 'used-code',
      title: 'used <code> & "quotes"',
      iteration: 1,
      outcome: 'failed',
      errorType: 'CheckFailed',
      message: 'exit 1 <not 3>\nsecond line',
      durationMs: 900,
      figures: {},
      notes: [],
      diagnostics: { 'device.status': 'contains ]]> and \u0001 control' },
    },
    {
      id: 'clock-in-past',
      title: 'clock',
      iteration: 2,
      outcome: 'skipped',
      message: 'no libfaketime',
      durationMs: 3,
      figures: {},
      notes: [],
    },
    {
      id: 'revocation',
      title: 'revocation',
      iteration: 1,
      outcome: 'error',
      errorType: 'Error',
      message: 'rig broke',
      durationMs: 10,
      figures: {},
      notes: [],
    },
  ],
};

describe('JUnit XML', () => {
  const xml = toJUnitXml(report);

  it('counts tests, failures, errors and skips on the suite', () => {
    expect(xml).toMatch(
      /<testsuite name="consystence-hil.local-node" tests="4" failures="1" errors="1" skipped="1" time="12.345"/,
    );
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
  });

  it('writes one testcase per result with failure, error and skipped elements', () => {
    expect(xml.match(/<testcase /g)).toHaveLength(4);
    expect(xml).toContain('<testcase name="first-pairing" classname="consystence-hil.local-node" time="1.500">');
    expect(xml).toContain('<failure message="exit 1 &lt;not 3&gt;" type="CheckFailed">');
    expect(xml).toContain('<error message="rig broke" type="Error">');
    expect(xml).toContain('<skipped message="no libfaketime"/>');
    expect(xml).toContain('name="clock-in-past #2"');
  });

  it('keeps figures in system-out and diagnostics in system-err, CDATA-safe and without control characters', () => {
    expect(xml).toContain('figure timeToOnlineMs = 800');
    expect(xml).toContain(']]]]><![CDATA[>');
    expect(xml).not.toContain('\u0001');
  });

  it('escapes attribute text', () => {
    expect(xmlEscape(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});

describe('JSON summary', () => {
  const json = toJsonSummary(report) as {
    ok: boolean;
    totals: Record<string, number>;
    scenarios: Array<Record<string, unknown>>;
  };

  it('is not ok when anything failed or errored, and counts outcomes', () => {
    expect(json.ok).toBe(false);
    expect(json.totals).toEqual({ total: 4, passed: 1, failed: 1, error: 1, skipped: 1, partial: 0 });
  });

  it('carries per-scenario result, duration, figures and diagnostics only for failures', () => {
    expect(json.scenarios[0]).toMatchObject({
      id: 'first-pairing',
      result: 'passed',
      durationMs: 1500,
      figures: { timeToOnlineMs: 800 },
    });
    expect(json.scenarios[0]).not.toHaveProperty('diagnostics');
    expect(json.scenarios[1]).toHaveProperty('diagnostics');
  });

  it('is ok when everything passed or was skipped', () => {
    const fine = toJsonSummary({ ...report, results: [report.results[0]!, report.results[2]!] }) as { ok: boolean };
    expect(fine.ok).toBe(true);
  });
});

describe('what a CI needs to trust a run', () => {
  const partialRun: RunReport = {
    ...report,
    device: { version: '0.1.0', sha256: 'ab'.repeat(32), arch: 'arm64' },
    results: [
      {
        id: 'network-partition',
        title: 'partition',
        iteration: 1,
        outcome: 'passed',
        durationMs: 100,
        figures: {},
        notes: [],
        partial: ['link degradation (netem) not exercised: no sch_netem'],
      },
    ],
  };

  it('marks a scenario that ran only in part with a property and a PARTIAL line', () => {
    const xml = toJUnitXml(partialRun);
    expect(xml).toContain(
      '<properties><property name="partial" value="link degradation (netem) not exercised: no sch_netem"/></properties>',
    );
    expect(xml).toContain('PARTIAL: link degradation (netem) not exercised: no sch_netem');
    const summary = toJsonSummary(partialRun) as {
      totals: { partial: number };
      scenarios: Array<{ partial?: string[] }>;
    };
    expect(summary.totals.partial).toBe(1);
    expect(summary.scenarios[0]!.partial).toEqual(['link degradation (netem) not exercised: no sch_netem']);
  });

  it("names the device's version, sha256 and arch as suite properties", () => {
    const xml = toJUnitXml(partialRun);
    expect(xml).toContain('<property name="device.version" value="0.1.0"/>');
    expect(xml).toContain(`<property name="device.sha256" value="${'ab'.repeat(32)}"/>`);
    expect(xml).toContain('<property name="device.arch" value="arm64"/>');
    expect(toJsonSummary(partialRun)).toMatchObject({ deviceIdentity: { version: '0.1.0', arch: 'arm64' } });
  });
});
