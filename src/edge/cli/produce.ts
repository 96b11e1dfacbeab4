/**
 * `produce`: hands records to the running service's producer API, exactly as an on-device application would.
 * For technicians ("send a test value and watch it arrive at the site server") and for HIL rigs that reach a
 * device only through a command template (ssh), where the API's loopback port is out of reach.
 *
 * It never opens the state database (the service owns it): the answer comes from the service, after its commit,
 * so a printed seq is durable on the device. Requests go one after another, so seqs come back in order; when one
 * fails, what was already stored is said, so a rig or technician never re-sends blindly.
 */
import { z } from 'zod';
import { EdgeError } from '../errors.js';
import { ProducerClient, ProducerError } from '../producer/client.js';
import { commonSettings, parseFlags, type Subcommand } from './common.js';
import { MAX_STDIN_BYTES, PRODUCE_OPTIONS, producePlan, type ProducePlan } from './produce-args.js';

const REQUEST_TIMEOUT_MS = 30_000;

export const produce: Subcommand = {
  describe: 'send records to the running service (a test value, or a JSON array on stdin)',
  usage:
    'consystence-edge produce [--channel telemetry|events] (--tag T --value V [--quality good|bad|uncertain] [--ts ISO] [--count N] [--batch N] | --records -) [--durable] [--producer-port N | --producer-socket PATH] [--json]',
  async run(io) {
    const values = parseFlags(io.argv, PRODUCE_OPTIONS);
    const settings = commonSettings(values, io.env);
    const plan = await producePlan(values, io.env, () => io.readStdin(MAX_STDIN_BYTES));
    const { seq, lastSeq } = await send(plan);
    const many = plan.total === 1 ? '1 record' : `${plan.total} records`;
    io.stdout(
      settings.json
        ? `${JSON.stringify({ seq, lastSeq, records: plan.total, requests: plan.batches.length, channel: plan.channel })}\n`
        : `stored ${many} on ${plan.channel}: seq ${seq === lastSeq ? seq : `${seq}..${lastSeq}`} (the service sends it to the site server; see 'consystence-edge status')\n`,
    );
    return 0;
  },
};

async function send(plan: ProducePlan): Promise<{ seq: number; lastSeq: number }> {
  const client = new ProducerClient({ ...plan.target, timeoutMs: REQUEST_TIMEOUT_MS });
  let first = 0;
  let last = 0;
  let stored = 0;
  for (const batch of plan.batches) {
    try {
      const answer =
        plan.channel === 'events'
          ? await client.events(batch, { durable: plan.durable })
          : await client.telemetry(batch, { durable: plan.durable });
      first ||= answer.seq;
      last = answer.lastSeq;
      stored += batch.length;
    } catch (error) {
      const before = stored
        ? ` ${stored} of ${plan.total} records were stored before this (seq ${first}..${last}).`
        : ' Nothing was stored.';
      throw failure(error, plan.address, before);
    }
  }
  return { seq: first, lastSeq: last };
}

/** One sentence with the fix: unreachable (exit 9) is the technician's to fix; a refusal is the device's (exit 1). */
function failure(error: unknown, address: string, stored: string): EdgeError {
  if (error instanceof ProducerError) {
    const details = error.details
      ?.slice(0, 3)
      .map((d) => `${d.field}: ${d.message}`)
      .join('; ');
    return new EdgeError(
      'PRODUCER_REFUSED',
      `the service refused the records (${error.status} ${error.code}: ${error.message}${details ? `; ${details}` : ''}).${stored} Check 'consystence-edge doctor' and the service log (journalctl -u consystence-edge).`,
    );
  }
  if (error instanceof z.ZodError) {
    return new EdgeError(
      'PRODUCER_REFUSED',
      `the service at ${address} answered, but not with {seq,lastSeq} (another program on that port?).${stored} Check the port with 'systemctl cat consystence-edge'.`,
    );
  }
  const code = (error as { code?: unknown }).code;
  const why = typeof code === 'string' ? code : (error as Error).message;
  const hint =
    code === 'EACCES'
      ? "run as a user in the socket's group, or with sudo"
      : 'Is the service running? systemctl status consystence-edge. If it is, give the port or socket it listens on (--producer-port / --producer-socket, or CONSYSTENCE_EDGE_PRODUCER_PORT / _SOCKET, as set for the service).';
  return new EdgeError(
    'PRODUCER_UNREACHABLE',
    `cannot reach the producer API at ${address} (${why}).${stored} ${hint}`,
  );
}
