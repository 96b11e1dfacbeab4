#!/usr/bin/env node
// Runs the TypeScript entry under Node via tsx, so `npx <bin>` works straight from a clone with no build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
