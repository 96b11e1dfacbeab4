/** Where the repository's entry points and build outputs are, relative to this file (not the caller's cwd). */
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const EDGE_ENTRY = resolve(REPO_ROOT, 'src/edge/main.ts');
export const BUN_BIN = process.env.BUN_BIN ?? resolve(REPO_ROOT, 'node_modules/.bin/bun');
export const DEFAULT_BINARY_X64 = resolve(REPO_ROOT, 'out/consystence-edge-linux-x64');
export const DEFAULT_BINARY_ARM64 = resolve(REPO_ROOT, 'out/consystence-edge-linux-arm64');
