// Who may act: on loopback anyone on this machine; bound elsewhere (or given a token) only a holder of the token, by
// `Authorization: Bearer <token>` (scripts) or a sign-in cookie (browsers). Every form POST also carries a CSRF token
// and, from a browser, an Origin of this very console; on loopback the Host must be a loopback name (DNS rebinding).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export const SESSION_COOKIE = 'captcha_console';

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** Constant-time equality of two secrets of any length (compared as SHA-256 HMACs of equal size). */
export function sameSecret(a: string, b: string): boolean {
  const key = randomBytes(32);
  const ha = createHmac('sha256', key).update(a).digest();
  const hb = createHmac('sha256', key).update(b).digest();
  return timingSafeEqual(ha, hb);
}

export class Guard {
  /** per process: CSRF tokens of an older process are refused (reload the page) */
  private readonly secret = randomBytes(32);

  constructor(
    readonly tokenMode: boolean,
    private readonly token: string | undefined,
    private readonly loopbackOnly: boolean,
  ) {}

  /** The sign-in cookie's value: derived from the token, never the token itself. */
  private sessionValue(): string {
    return createHmac('sha256', this.token ?? '').update('captcha-dlq console session').digest('base64url');
  }

  csrfToken(): string {
    return createHmac('sha256', this.secret).update('csrf').digest('base64url');
  }

  checkCsrf(value: string | null): boolean {
    return value !== null && sameSecret(value, this.csrfToken());
  }

  checkToken(candidate: string): boolean {
    return this.token !== undefined && sameSecret(candidate, this.token);
  }

  sessionCookie(): string {
    return `${SESSION_COOKIE}=${this.sessionValue()}; HttpOnly; SameSite=Strict; Path=/`;
  }

  /** How the request proves it holds the token, if it does. */
  credential(req: IncomingMessage): 'bearer' | 'cookie' | undefined {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && this.checkToken(auth.slice(7))) return 'bearer';
    const cookie = cookieOf(req, SESSION_COOKIE);
    if (this.token !== undefined && cookie !== undefined && sameSecret(cookie, this.sessionValue())) return 'cookie';
    return undefined;
  }

  /** A refusal sentence for a Host header this console must not answer (DNS rebinding), else undefined. */
  checkHost(req: IncomingMessage): string | undefined {
    if (!this.loopbackOnly) return undefined;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    return isLoopback(host) ? undefined : 'this console answers only to 127.0.0.1, localhost or [::1].';
  }

  /** A refusal sentence when a browser POST comes from another site, else undefined. */
  checkOrigin(req: IncomingMessage): string | undefined {
    const origin = req.headers.origin ?? refererOrigin(req.headers.referer);
    if (origin === undefined) return undefined;
    return origin === `http://${req.headers.host ?? ''}` ? undefined : `a form from ${origin.slice(0, 100)} may not act on this console.`;
  }
}

function refererOrigin(referer: string | undefined): string | undefined {
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return 'an unreadable Referer';
  }
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}
