/** The local producer API (server inside the edge) and its client (for on-device applications). */
export { startProducerServer, type ProducerServer, type ProducerServerOptions } from './server.js';
export { ProducerClient, ProducerError, type ProducerClientOptions } from './client.js';
export { MAX_PRODUCER_BODY_BYTES, PRODUCER_DEFAULT_PORT, ProduceRequest, ProduceResponse } from './schema.js';
