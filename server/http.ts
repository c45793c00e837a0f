/** express app: the built client, `GET /api/health`, and the token gate when one is configured. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Router } from 'express';
import type { HealthResponse } from '../shared/contract.ts';
import { requireToken } from './auth.ts';
import type { Hub } from './hub.ts';

/** Where the built client is: beside the sources (client/dist) or beside a bundle (dist/client). */
export function findClientDir(explicit?: string): string | null {
  const candidates = explicit
    ? [explicit]
    : [fileURLToPath(new URL('../client/dist/', import.meta.url)), fileURLToPath(new URL('./client/', import.meta.url))];
  return candidates.find((d) => existsSync(`${d}/index.html`)) ?? null;
}

export interface HttpDeps {
  hub: Hub;
  token: string | null;
  clientDir: string | null;
  clientCount: () => number;
  /** Further API routers (alerts, ...), mounted under /api before the 404. */
  apiRouters?: Router[];
}

export function createHttpApp(deps: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; object-src 'none'; frame-ancestors 'none'",
    );
    next();
  });
  if (deps.token) app.use(requireToken(deps.token));

  app.get('/api/health', (_req, res) => {
    const hub = deps.hub;
    const age = hub.lastSampleAgeMs();
    const body: HealthResponse = {
      ok: hub.source.status === 'running' && age !== null,
      serverVersion: hub.serverVersion,
      source: hub.source,
      lastSampleAgeMs: age,
      clients: deps.clientCount(),
      gpus: hub.latestGpus.length,
      uptimeMs: Date.now() - hub.startedAtMs,
    };
    res.json(body);
  });
  for (const router of deps.apiRouters ?? []) app.use('/api', router);
  app.use('/api', (_req, res) => {
    res.status(404).json({ ok: false, error: 'no such API endpoint' });
  });

  if (deps.clientDir) {
    app.use(express.static(deps.clientDir, { index: 'index.html', maxAge: '1h', setHeaders: (res, path) => {
      if (path.endsWith('index.html')) res.setHeader('Cache-Control', 'no-cache');
    } }));
  } else {
    app.get('/', (_req, res) => {
      res
        .status(503)
        .type('text/plain')
        .send('The Headroom client is not built. Run `npm run build:client` (npm start does this), then reload.');
    });
  }
  return app;
}
