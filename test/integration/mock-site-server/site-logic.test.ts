/**
 * The site logic, run once against the embedded broker and once against Debian's mosquitto: presence and the
 * LWT, seq de-duplication and gaps, config push and commands through the control API, ACL isolation between two
 * edges, bad JSON on every channel.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CONFIG_VERSION, serverStatusTopic } from '../../../src/protocol/index.js';
import { mosquittoUnavailable } from '../../helpers/mosquitto.js';
import { waitFor } from '../../helpers/wait.js';
import { startHarness, type Harness, type Mode } from './helpers/modes.js';
import { api, envelope, statusOnline } from './helpers/site.js';

const unavailable = mosquittoUnavailable();
if (unavailable) console.warn(`site-logic [external] skipped: ${unavailable}`);
const modes: Mode[] = unavailable ? ['embedded'] : ['embedded', 'external'];

async function edgeView(h: Harness, edgeId: string): Promise<any> {
  const { body } = await api(h.server, 'GET', '/edges');
  return body.data.find((e: { edgeId: string }) => e.edgeId === edgeId);
}

/** Answers config pushes and commands the way CONTRACT §4 says an edge does. */
async function behaveAsEdge(client: MqttClient, edge: Harness['edges'][0], options: { answerCommands?: boolean } = {}) {
  client.on('message', (topic, payload) => {
    if (topic === edge.topics.config) {
      const push = JSON.parse(payload.toString());
      client.publish(
        edge.topics.configReported,
        JSON.stringify({ version: push.version, status: 'applied', ts: new Date().toISOString() }),
        { qos: 1, retain: true },
      );
    }
    if (topic === edge.topics.cmd && options.answerCommands !== false) {
      const cmd = JSON.parse(payload.toString());
      const answer =
        cmd.name === 'ping'
          ? { id: cmd.id, ok: true, result: { pong: true } }
          : { id: cmd.id, ok: false, error: { code: 'UNKNOWN_COMMAND', message: cmd.name } };
      client.publish(edge.topics.cmdResult, JSON.stringify(answer), { qos: 1 });
    }
  });
  await client.subscribeAsync([edge.topics.config, edge.topics.cmd], { qos: 1 });
}

describe.each(modes)('site logic [%s broker]', (mode) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(mode);
  });
  afterAll(async () => {
    await h?.server.close();
    await h?.mosquitto?.stop();
  });

  it('publishes its own retained online status', async () => {
    const client = await h.connect(h.edges[0]);
    const status = new Promise<any>((resolve) =>
      client.on('message', (topic, payload) => {
        if (topic === serverStatusTopic(h.site.siteId)) resolve(JSON.parse(payload.toString()));
      }),
    );
    await client.subscribeAsync(serverStatusTopic(h.site.siteId), { qos: 1 });
    expect((await status).state).toBe('online');
    await client.endAsync();
  });

  it('tracks presence from status messages and the LWT', async () => {
    const [a] = h.edges;
    const client = await h.connect(a);
    await client.publishAsync(a.topics.status, statusOnline(), { qos: 1, retain: true });
    await waitFor(async () => (await edgeView(h, a.edgeId))?.presence.state === 'online', { what: 'online' });
    // Cut the TCP connection without DISCONNECT: the broker publishes the LWT.
    client.stream.destroy();
    const lost = await waitFor(
      async () => {
        const view = await edgeView(h, a.edgeId);
        return view?.presence.state === 'offline' ? view : undefined;
      },
      { what: 'offline via LWT' },
    );
    expect(lost.presence.reason).toBe('lost');
    client.end(true);

    const again = await h.connect(a);
    await again.publishAsync(a.topics.status, statusOnline(), { qos: 1, retain: true });
    await waitFor(async () => (await edgeView(h, a.edgeId))?.presence.state === 'online', { what: 'online again' });
    await again.publishAsync(
      a.topics.status,
      JSON.stringify({ state: 'offline', reason: 'shutdown', ts: new Date().toISOString() }),
      { qos: 1, retain: true },
    );
    await again.endAsync();
    const stopped = await waitFor(
      async () => {
        const view = await edgeView(h, a.edgeId);
        return view?.presence.reason === 'shutdown' ? view : undefined;
      },
      { what: 'clean stop' },
    );
    expect(stopped.presence.state).toBe('offline');
  });

  it('de-duplicates by seq and reports gaps, filling them when late messages arrive', async () => {
    const [, b] = h.edges;
    const client = await h.connect(b);
    for (const seq of [1, 2, 2, 6, 3, 1]) await client.publishAsync(b.topics.telemetry, envelope(seq), { qos: 1 });
    await client.publishAsync(b.topics.events, envelope(7), { qos: 1 });
    const view = await waitFor(
      async () => {
        const v = await edgeView(h, b.edgeId);
        return v?.counters.received === 7 ? v : undefined;
      },
      { what: 'seven messages' },
    );
    expect(view.counters).toMatchObject({ messages: 5, duplicates: 2, gaps: 1, missing: 2, invalid: 0 });
    expect(view.lastSeq).toBe(7);
    const gaps = await api(h.server, 'GET', `/edges/${b.edgeId}/gaps`);
    expect(gaps.body.data.map((g: any) => [g.from, g.to])).toEqual([[4, 5]]);
    const dupes = await api(h.server, 'GET', `/edges/${b.edgeId}/messages?channel=telemetry&limit=10`);
    expect(dupes.body.data.map((m: any) => m.verdict)).toEqual(['new', 'new', 'duplicate', 'new', 'late', 'duplicate']);
    await client.endAsync();
  });

  it("pushes a config and returns the edge's report; versions only grow", async () => {
    const [a] = h.edges;
    const client = await h.connect(a);
    await behaveAsEdge(client, a);
    const first = await api(h.server, 'POST', `/edges/${a.edgeId}/config`, {
      config: { heartbeatSeconds: 10 },
      wait: true,
      timeoutMs: 10_000,
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ version: 1, reported: { version: 1, status: 'applied' } });
    const second = await api(h.server, 'POST', `/edges/${a.edgeId}/config`, {
      config: { heartbeatSeconds: 20 },
    });
    expect(second).toMatchObject({ status: 202, body: { version: 2 } });
    const stale = await api(h.server, 'POST', `/edges/${a.edgeId}/config`, {
      config: { heartbeatSeconds: 20 },
      version: 2,
    });
    expect(stale.status).toBe(409);
    await client.endAsync();
  });

  it('bounds config versions; config-reset recovers an edge at the bound, and needs the version it holds', async () => {
    const [a] = h.edges;
    const client = await h.connect(a);
    const pushes: unknown[] = [];
    client.on('message', (topic, payload) => topic === a.topics.config && pushes.push(JSON.parse(payload.toString())));
    await behaveAsEdge(client, a);
    const path = `/edges/${a.edgeId}/config`;
    expect((await api(h.server, 'POST', path, { config: {}, version: 2 ** 53 - 1 })).status).toBe(400);
    const last = await api(h.server, 'POST', path, {
      config: { heartbeatSeconds: 10 },
      version: MAX_CONFIG_VERSION,
      wait: true,
    });
    expect(last.body).toMatchObject({ version: MAX_CONFIG_VERSION, reported: { version: MAX_CONFIG_VERSION } });
    const stuck = await api(h.server, 'POST', path, { config: { heartbeatSeconds: 20 } });
    expect(stuck.status).toBe(409);
    expect(stuck.body.error.message).toMatch(/config-reset/);
    const reset = await api(h.server, 'POST', `${path}-reset`, { config: { heartbeatSeconds: 20 }, wait: true });
    expect(reset.body).toMatchObject({ version: 1, reported: { version: 1, status: 'applied' } });
    expect(pushes.at(-1)).toEqual({ version: 1, config: { heartbeatSeconds: 20 }, resetFrom: MAX_CONFIG_VERSION });
    expect((await api(h.server, 'POST', path, { config: { heartbeatSeconds: 30 } })).body.version).toBe(2);
    const unknown = await api(h.server, 'POST', '/edges/never-seen-edge/config-reset', { config: {} });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'NOT_FOUND']);
    // A typo'd edge id is a 404 everywhere, not a 202 waiting on a retained topic nobody reads.
    for (const route of ['config', 'commands', 'raw'])
      expect([route, (await api(h.server, 'POST', `/edges/never-seen-edge/${route}`, {})).status]).toEqual([
        route,
        404,
      ]);
    // A command that expired before it was sent is refused at once, not after the edge's EXPIRED or a timeout.
    const late = await api(h.server, 'POST', `/edges/${a.edgeId}/commands`, {
      name: 'ping',
      expiresAt: '2001-01-01T00:00:00Z',
    });
    expect([late.status, late.body.error.code]).toEqual([400, 'VALIDATION_ERROR']);
    await client.endAsync();
  });

  it('refuses a seq beyond the contract bound without poisoning the seq book', async () => {
    const [a] = h.edges;
    const client = await h.connect(a);
    const before = (await api(h.server, 'GET', `/edges/${a.edgeId}`)).body;
    await client.publishAsync(a.topics.telemetry, envelope(2 ** 53 - 1), { qos: 1 });
    await client.publishAsync(a.topics.telemetry, envelope(before.lastSeq + 1), { qos: 1 });
    const after = await waitFor(async () => {
      const { body } = await api(h.server, 'GET', `/edges/${a.edgeId}`);
      return body.lastSeq === before.lastSeq + 1 && body;
    });
    expect(after.counters.invalid).toBe(before.counters.invalid + 1);
    expect(after.counters.messages).toBe(before.counters.messages + 1);
    await client.endAsync();
  });

  it('sends a command and returns its correlated result; no answer is a 504', async () => {
    const [a] = h.edges;
    const client = await h.connect(a);
    await behaveAsEdge(client, a);
    const ping = await api(h.server, 'POST', `/edges/${a.edgeId}/commands`, {
      name: 'ping',
      timeoutMs: 10_000,
    });
    expect(ping.status).toBe(200);
    expect(ping.body.result).toMatchObject({ id: ping.body.id, ok: true, result: { pong: true } });
    const unknown = await api(h.server, 'POST', `/edges/${a.edgeId}/commands`, {
      name: 'self-destruct',
      args: { now: true },
    });
    expect(unknown.body.result).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMMAND' } });
    await client.endAsync();

    const silent = await h.connect(a);
    await behaveAsEdge(silent, a, { answerCommands: false });
    const timeout = await api(h.server, 'POST', `/edges/${a.edgeId}/commands`, {
      name: 'ping',
      timeoutMs: 300,
    });
    expect(timeout.status).toBe(504);
    expect(timeout.body.error.code).toBe('TIMEOUT');
    await silent.endAsync();
  });

  it("isolates two edges: no reading another edge's topics (exact, +, #, $SYS), no writing them", async () => {
    const [a, b] = h.edges;
    const victim = await h.connect(a);
    await behaveAsEdge(victim, a);
    const spy = await h.connect(b);
    const seen: string[] = [];
    spy.on('message', (topic) => seen.push(topic));
    const filters = [
      a.topics.cmd,
      a.topics.config,
      a.topics.telemetry,
      `consystence/v1/sites/${h.site.siteId}/edges/+/cmd`,
      'consystence/#',
      '#',
      '$SYS/#',
    ];
    // One SUBSCRIBE per filter, so each gets its own SUBACK (mqtt.js rejects a whole batch on one refusal).
    const granted = await Promise.all(
      filters.map(
        (f) =>
          new Promise<number>((resolve) =>
            spy.subscribe(f, { qos: 1 }, (error, g) => resolve(error ? 128 : (g?.[0]?.qos ?? -1))),
          ),
      ),
    );
    if (h.mode === 'embedded') expect(granted).toEqual(filters.map(() => 128));
    await victim.publishAsync(a.topics.status, statusOnline(), { qos: 1, retain: true });

    const before = (await edgeView(h, a.edgeId)).counters.received;
    const ping = await api(h.server, 'POST', `/edges/${a.edgeId}/commands`, { name: 'ping' });
    expect(ping.status).toBe(200);
    await victim.publishAsync(a.topics.telemetry, envelope(1000), { qos: 1 });
    // A write into a's topics: the embedded broker closes b's connection, mosquitto drops the message.
    spy.publish(a.topics.telemetry, envelope(999_999), { qos: 1 });
    spy.publish(a.topics.status, JSON.stringify({ state: 'offline', reason: 'shutdown' }), { qos: 1, retain: true });
    await waitFor(async () => (await edgeView(h, a.edgeId)).counters.received >= before + 2, {
      what: "a's own messages",
    });
    await new Promise((r) => setTimeout(r, 500));
    const after = await edgeView(h, a.edgeId);
    expect(after.lastSeq).toBe(1000);
    expect(after.presence.state).toBe('online');
    // mosquitto grants `#` but delivers only what b may read: the server status is the one allowed topic.
    expect(seen.filter((t) => t !== serverStatusTopic(h.site.siteId))).toEqual([]);
    await victim.endAsync();
    spy.end(true);
  });

  it("keeps update offers the site server's: an edge reads only its own, reports only its own state, offers nothing", async () => {
    const [a, b] = h.edges;
    const report = (state: string) =>
      JSON.stringify({
        campaignId: null,
        kind: 'runtime',
        name: 'consystence-edge',
        version: '9.9.9',
        state,
        runningVersion: '1.0.0',
        at: new Date().toISOString(),
      });
    const victim = await h.connect(a);
    const offersToA: string[] = [];
    victim.on('message', (topic, payload) => {
      if (topic === a.topics.update) offersToA.push(payload.toString());
    });
    expect((await victim.subscribeAsync(a.topics.update, { qos: 1 }))[0]?.qos).toBe(1);
    const fakeOffer = JSON.stringify({
      campaignId: '00000000-0000-0000-0000-000000000000',
      cancelled: true,
      ts: new Date().toISOString(),
    });
    // A hostile edge offers itself something: refused (mosquitto drops it, the embedded broker closes the link).
    const selfOffering = await h.connect(b);
    const offersToB: string[] = [];
    selfOffering.on('message', (topic, payload) => {
      if (topic === b.topics.update) offersToB.push(payload.toString());
    });
    await selfOffering.subscribeAsync(b.topics.update, { qos: 1 });
    selfOffering.publish(b.topics.update, fakeOffer, { qos: 1, retain: true });
    await new Promise((r) => setTimeout(r, 300));
    selfOffering.end(true);
    // ...and reads and writes another edge's update topics: refused too.
    const hostile = await h.connect(b);
    const granted = await new Promise<number>((resolve) =>
      hostile.subscribe(a.topics.update, { qos: 1 }, (error, g) => resolve(error ? 128 : (g?.[0]?.qos ?? -1))),
    );
    if (h.mode === 'embedded') expect(granted).toBe(128);
    await victim.publishAsync(a.topics.updateState, report('downloading'), { qos: 1, retain: true });
    const view = await waitFor(async () => (await edgeView(h, a.edgeId))?.update ?? undefined, {
      what: "a's own update state",
    });
    expect(view).toMatchObject({ state: 'downloading', version: '9.9.9', campaignId: null });
    hostile.publish(a.topics.update, fakeOffer, { qos: 1, retain: true });
    hostile.publish(a.topics.updateState, report('failed'), { qos: 1, retain: true });
    await new Promise((r) => setTimeout(r, 500));
    expect((await edgeView(h, a.edgeId)).update.state).toBe('downloading');
    expect(offersToA).toEqual([]);
    expect(offersToB).toEqual([]);
    hostile.end(true);
    await victim.endAsync();
    // Nothing was retained on a's offer topic either.
    const late = await h.connect(a);
    const retained: string[] = [];
    late.on('message', (topic) => retained.push(topic));
    await late.subscribeAsync(a.topics.update, { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(retained).toEqual([]);
    await late.endAsync();
  });

  it('refuses bad JSON on every channel, counts it, and keeps serving the edge', async () => {
    const [, b] = h.edges;
    const client = await h.connect(b);
    const before = (await edgeView(h, b.edgeId)).counters;
    const bad = [
      '{',
      'null',
      '{"seq":"one"}',
      '\u0000\u00ff',
      JSON.stringify({ seq: -1, ts: 'x', historical: false, records: [] }),
    ];
    const channels = [
      'status',
      'heartbeat',
      'telemetry',
      'events',
      'configReported',
      'cmdResult',
      'updateState',
    ] as const;
    for (const channel of channels)
      for (const payload of bad) await client.publishAsync(b.topics[channel], payload, { qos: 1 });
    await client.publishAsync(b.topics.telemetry, envelope(100), { qos: 1 });
    const view = await waitFor(
      async () => {
        const v = await edgeView(h, b.edgeId);
        return v.lastSeq === 100 ? v : undefined;
      },
      { what: 'the good message after the bad ones' },
    );
    expect(view.counters.invalid - before.invalid).toBe(channels.length * bad.length);
    const refused = await api(h.server, 'GET', `/edges/${b.edgeId}/messages?channel=heartbeat&limit=1`);
    expect(refused.body.data[0]).toMatchObject({ payload: null, error: expect.any(String) });
    await client.endAsync();
  });
});
