// `npm run build:server`: bundle the agent into dist/headroom.js (one ESM file, every dependency inside), and
// copy beside it what it reads at run time: the built client (dist/client) and the bundled recordings
// (dist/recordings). The result runs with plain `node dist/headroom.js` and no node_modules.
// `--out <dir>` builds elsewhere (the bundle test builds into a temporary folder).
import { chmodSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const dist = values.out ? `${resolve(values.out)}/` : `${root}dist/`;
const clientDist = `${root}client/dist/`;

if (!existsSync(`${clientDist}index.html`)) {
  console.error('build-server: client/dist/index.html is missing; run `npm run build:client` first (`npm run build` does both).');
  process.exit(1);
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: [`${root}server/main.ts`],
  outfile: `${dist}headroom.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: false,
  legalComments: 'none',
  // ws tries these native speed-ups inside try/catch and works without them.
  external: ['bufferutil', 'utf-8-validate'],
  // CommonJS dependencies (express, socket.io, xml2js) call require(): give the ESM bundle a real one.
  banner: {
    js: [
      '#!/usr/bin/env node',
      "import { createRequire as __headroomCreateRequire } from 'node:module';",
      'const require = __headroomCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  logLevel: 'warning',
});
chmodSync(`${dist}headroom.js`, 0o755);

cpSync(clientDist, `${dist}client/`, { recursive: true });
cpSync(`${root}server/recordings/`, `${dist}recordings/`, { recursive: true });
console.log(`build-server: ${dist}headroom.js, client/, recordings/ — run with \`node ${values.out ? `${dist}headroom.js` : 'dist/headroom.js'}\``);
