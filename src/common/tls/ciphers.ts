/**
 * The cipher list every TLS endpoint of ours pins (the device's clients and the mock site server's listener):
 * TLS 1.2 with forward-secret AEAD suites only (TLS 1.3 suites are all AEAD already).
 */
export const TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
