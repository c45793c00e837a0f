#!/usr/bin/env node
// `npx headroom …` from a checkout: run the TypeScript sources through tsx. The bundle (npm run build) needs no tsx.
import { register } from 'tsx/esm/api';

register();
await import('../main.ts');
