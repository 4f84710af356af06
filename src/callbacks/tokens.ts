// Per-task callback URLs: `<base>/callbacks/<workflow id, base64url>.<HMAC-SHA256 of the workflow id, base64url>`.
// Only a holder of the secret can make a URL that the receiver accepts, so nobody can push a token into someone
// else's task; the secret and the provider's API key never appear in a URL.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** Where the receiver listens under the public base URL. */
export const CALLBACK_PATH = '/callbacks/';
/** Workflow ids longer than this are not given a callback URL (the receiver refuses longer references). */
export const MAX_CALLBACK_WORKFLOW_ID = 512;
const MAC_LENGTH = 43; // 32 bytes in base64url

/**
 * The key the URLs are signed with: CAPTCHA_CALLBACK_SECRET when set, else one derived from the provider's API key
 * by HKDF (a one-way derivation: the key cannot be recovered from it, and it never leaves the worker).
 */
export function callbackKey(secret: string | undefined, apiKey: string): Buffer {
  if (secret) return Buffer.from(secret, 'utf8');
  return Buffer.from(hkdfSync('sha256', apiKey, 'captcha-dlq', 'callback-url-signing-v1', 32));
}

function mac(key: Buffer, workflowId: string): string {
  return createHmac('sha256', key).update(`callback:${workflowId}`).digest('base64url');
}

/** The URL a provider pushes the result of `workflowId`'s task to; undefined when the id is too long to carry. */
export function callbackUrlFor(baseUrl: string, key: Buffer, workflowId: string): string | undefined {
  if (workflowId.length === 0 || workflowId.length > MAX_CALLBACK_WORKFLOW_ID) return undefined;
  const ref = `${Buffer.from(workflowId, 'utf8').toString('base64url')}.${mac(key, workflowId)}`;
  return `${baseUrl.replace(/\/+$/, '')}${CALLBACK_PATH}${ref}`;
}

/** The workflow id a callback reference (the last path segment) was signed for; undefined when forged or malformed. */
export function verifyCallbackRef(key: Buffer, ref: string): string | undefined {
  const dot = ref.indexOf('.');
  if (dot <= 0 || ref.length - dot - 1 !== MAC_LENGTH || dot > Math.ceil((MAX_CALLBACK_WORKFLOW_ID * 4 * 4) / 3)) return undefined;
  const encodedId = ref.slice(0, dot);
  if (!/^[A-Za-z0-9_-]+$/.test(encodedId)) return undefined;
  const workflowId = Buffer.from(encodedId, 'base64url').toString('utf8');
  if (workflowId.length === 0 || workflowId.length > MAX_CALLBACK_WORKFLOW_ID) return undefined;
  const expected = Buffer.from(mac(key, workflowId));
  const given = Buffer.from(ref.slice(dot + 1));
  return given.length === expected.length && timingSafeEqual(given, expected) ? workflowId : undefined;
}
