/**
 * Baseline for the cold-start bench: the least a Bun program can do to say "online" — connect with mqtt.js
 * (MQTT 3.1.1, clean session, clientId = username = the edge's id, password = its token, as the edge does),
 * publish one retained QoS 1 status, wait for the PUBACK, disconnect. Run as `bun scripts/bench/baseline-mqtt.ts`
 * with BENCH_PORT, BENCH_CLIENT_ID, BENCH_PASSWORD, BENCH_TOPIC and BENCH_PAYLOAD in the environment.
 */
import mqtt from 'mqtt';

const env = process.env;
const client = mqtt.connect({
  host: '127.0.0.1',
  port: Number(env.BENCH_PORT),
  protocol: 'mqtt',
  protocolVersion: 4,
  clean: true,
  reconnectPeriod: 0,
  clientId: env.BENCH_CLIENT_ID,
  username: env.BENCH_CLIENT_ID,
  password: env.BENCH_PASSWORD,
});
client.once('error', (error) => {
  process.stderr.write(`baseline: ${error.message}\n`);
  process.exit(1);
});
client.once('connect', async () => {
  await client.publishAsync(env.BENCH_TOPIC!, env.BENCH_PAYLOAD!, { qos: 1, retain: true });
  await client.endAsync();
  process.exit(0);
});
setTimeout(() => process.exit(2), 10_000).unref();
