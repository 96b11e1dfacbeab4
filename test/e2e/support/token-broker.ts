/**
 * An aedes broker (MQTT 3.1.1) standing in for the site server until the mock site server lands: it admits an
 * edge only if username == clientId and the password verifies as an edge token with the cloud's JWKS (fetched
 * once, as the site server caches it, so it keeps working with the cloud down). Tests can ban a token's jti
 * (to force a CONNACK refusal) and kick a client (to force a reconnect).
 */
import { Aedes } from 'aedes';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { decodeJwt, type JSONWebKeySet } from 'jose';
import { verifyEdgeToken } from '../../../src/protocol/index.js';

export const OBSERVER = { username: 'test-observer', password: 'observer-secret' };

export interface ConnectRecord {
  clientId: string;
  jti: string | null;
  accepted: boolean;
  reason?: string;
}

export interface TokenBroker {
  url: string;
  port: number;
  connects: ConnectRecord[];
  bannedJtis: Set<string>;
  kick(clientId: string): boolean;
  close(): Promise<void>;
}

export async function startTokenBroker(options: {
  cloudUrl: string;
  siteId: string;
  jwks: JSONWebKeySet;
}): Promise<TokenBroker> {
  const connects: ConnectRecord[] = [];
  const bannedJtis = new Set<string>();
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const refuse = (reason: string, jti: string | null) => {
        connects.push({ clientId: client.id, jti, accepted: false, reason });
        const error = Object.assign(new Error(reason), { returnCode: 5 });
        done(error as never, false);
      };
      const pass = password ? Buffer.from(password).toString('utf8') : '';
      if (username === OBSERVER.username && pass === OBSERVER.password) return done(null, true);
      if (!username || username !== client.id) return refuse('username must equal clientId', null);
      let jti: string | null = null;
      try {
        jti = String(decodeJwt(pass).jti ?? '');
      } catch {
        return refuse('not a JWT', null);
      }
      if (bannedJtis.has(jti)) return refuse('banned token', jti);
      verifyEdgeToken(pass, options.jwks, options.siteId, { issuer: options.cloudUrl, clockToleranceSeconds: 60 }).then(
        (claims) => {
          if (claims.edge !== username) return refuse('token for another edge', jti);
          connects.push({ clientId: client.id, jti, accepted: true });
          done(null, true);
        },
        (error: Error) => refuse(error.message, jti),
      );
    },
  });
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    connects,
    bannedJtis,
    kick(clientId) {
      const client = (broker as unknown as { clients: Record<string, { close(): void }> }).clients[clientId];
      if (!client) return false;
      client.close();
      return true;
    },
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
