/**
 * Access token, required when the agent binds beyond loopback. Accepted as `Authorization: Bearer <t>`,
 * `?token=<t>` (the page link; it then sets an HttpOnly cookie for the assets and socket), or that cookie.
 */
import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export const TOKEN_COOKIE = 'headroom_token';

export function tokenMatches(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function tokenFromCookieHeader(cookieHeader: string | undefined): string | null {
  if (!cookieHeader) return null;
  for (const part of cookieHeader.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE) return decodeURIComponent(v.join('='));
  }
  return null;
}

function bearer(header: string | undefined): string | null {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return m?.[1] ?? null;
}

export function requireToken(expected: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const query = typeof req.query.token === 'string' ? req.query.token : null;
    if (tokenMatches(expected, query)) {
      res.cookie(TOKEN_COOKIE, expected, { httpOnly: true, sameSite: 'strict' });
      next();
      return;
    }
    if (tokenMatches(expected, bearer(req.headers.authorization)) || tokenMatches(expected, tokenFromCookieHeader(req.headers.cookie))) {
      next();
      return;
    }
    res.status(401).json({ ok: false, error: 'access token required: open the URL the agent printed (with ?token=...) or send Authorization: Bearer <token>' });
  };
}
