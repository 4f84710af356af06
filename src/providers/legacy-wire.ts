// The legacy in.php protocol's validation, shared by the simulator (which imitates the providers) and the gateway
// (which is one): request decoding, the error texts, and a submission checked in the order the real service checks it.
import type { IncomingMessage } from 'node:http';
import { Request as FetchRequest } from 'undici';
import { readBody } from '../http';
import { supportsKind } from './capabilities';

/** The image-text options of a submission (numeric, min_len, max_len). */
export interface ImageTextOptions {
  numeric?: boolean;
  minLen?: number;
  maxLen?: number;
}

/** An uploaded file of a multipart submit. */
export interface Upload {
  filename?: string;
  bytes: Buffer;
}

export type SubmissionType = 'recaptcha-v2' | 'recaptcha-v3' | 'hcaptcha' | 'turnstile' | 'image';

export const ERROR_TEXT: Record<string, string> = {
  ERROR_WRONG_USER_KEY: 'The key parameter is missing or malformed: it must contain 32 characters.',
  ERROR_KEY_DOES_NOT_EXIST: 'The key you provided does not exist.',
  ERROR_NO_SLOT_AVAILABLE: 'No slot available: every worker is busy. Retry in 5 seconds.',
  ERROR_PAGEURL: 'The pageurl parameter is missing.',
  ERROR_GOOGLEKEY: 'The googlekey parameter is missing or malformed.',
  ERROR_SITEKEY: 'The sitekey parameter is missing or malformed.',
  ERROR_NO_SUCH_METHOD: 'The method parameter is missing or unknown.',
  ERROR_BAD_PARAMETERS: 'Some parameters have invalid values.',
  ERROR_PROXY_FORMAT: 'The proxy must be login:password@host:port or host:port; proxytype HTTP, HTTPS, SOCKS4 or SOCKS5.',
  ERROR_ZERO_CAPTCHA_FILESIZE: 'Image size is less than 100 bytes.',
  ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'Image size is more than 100 kB.',
  ERROR_WRONG_FILE_EXTENSION: 'Unsupported image file extension. Accepted: jpg, jpeg, gif, png.',
  ERROR_UPLOAD: 'Could not read the image data from the request.',
  ERROR_SERVER_ERROR: 'Server error: this captcha type is not supported.',
  MAX_USER_TURN: 'Too many in.php requests: blocked for 10 seconds.',
  'ERROR: 1005': 'Too many res.php requests: blocked for 10 minutes.',
  IP_BANNED: 'Your IP address is banned after many requests with wrong keys.',
  ERROR_IP_NOT_ALLOWED: 'The request comes from an IP address that is not allowed for this key.',
  ERROR_WRONG_ID_FORMAT: 'The captcha id must contain digits only.',
  ERROR_WRONG_CAPTCHA_ID: 'The captcha id is wrong or expired.',
  ERROR_CAPTCHA_UNSOLVABLE: 'Workers could not solve the captcha.',
  ERROR_EMPTY_ACTION: 'The action parameter is missing or unknown.',
  ERROR_DUPLICATE_REPORT: 'This captcha was already reported.',
  ERROR_REPORT_NOT_RECORDED: 'Report not recorded: the captcha has no answer.',
};

export const MIN_IMAGE_BYTES = 100;
export const MAX_IMAGE_BYTES = 100 * 1024;
const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'gif', 'png', 'bmp', 'webp']);
const PROXY_TYPES = new Set(['HTTP', 'HTTPS', 'SOCKS4', 'SOCKS5']);
const PROXY_FORMAT = /^(?:[^\s:@]+(?::[^\s@]*)?@)?[^\s:@]+:\d{1,5}$/;

export type Submission = { type: SubmissionType; sitekey?: string; image?: Buffer; imageText?: ImageTextOptions } | { code: string };

function checkProxy(params: ReadonlyMap<string, string>): string | undefined {
  const proxy = params.get('proxy');
  const proxyType = params.get('proxytype');
  if (proxy !== undefined && !PROXY_FORMAT.test(proxy)) return 'ERROR_PROXY_FORMAT';
  if (proxyType !== undefined && !PROXY_TYPES.has(proxyType.toUpperCase())) return 'ERROR_PROXY_FORMAT';
  return undefined;
}

function checkImage(bytes: Buffer): string | undefined {
  if (bytes.length < MIN_IMAGE_BYTES) return 'ERROR_ZERO_CAPTCHA_FILESIZE';
  if (bytes.length > MAX_IMAGE_BYTES) return 'ERROR_TOO_BIG_CAPTCHA_FILESIZE';
  return undefined;
}

function imageTextOptions(params: ReadonlyMap<string, string>): ImageTextOptions {
  const minLen = Number(params.get('min_len'));
  const maxLen = Number(params.get('max_len'));
  return {
    numeric: params.get('numeric') === '1',
    ...(minLen > 0 && { minLen }),
    ...(maxLen > 0 && { maxLen }),
  };
}

/** Validates an in.php submission the way the real service does, in the same order. */
export function parseSubmission(
  params: ReadonlyMap<string, string>,
  files: ReadonlyMap<string, Upload>,
  provider: Parameters<typeof supportsKind>[0],
): Submission {
  const method = params.get('method');
  const pageUrlMissing = !params.get('pageurl');
  switch (method) {
    case 'userrecaptcha': {
      const sitekey = params.get('googlekey');
      if (!sitekey) return { code: 'ERROR_GOOGLEKEY' };
      if (pageUrlMissing) return { code: 'ERROR_PAGEURL' };
      const v3 = params.get('version') === 'v3';
      const minScore = params.get('min_score');
      if (v3 && minScore !== undefined && !(Number(minScore) >= 0.1 && Number(minScore) <= 0.9)) return { code: 'ERROR_BAD_PARAMETERS' };
      const proxyError = checkProxy(params);
      return proxyError ? { code: proxyError } : { type: v3 ? 'recaptcha-v3' : 'recaptcha-v2', sitekey };
    }
    case 'hcaptcha':
    case 'turnstile': {
      // a kind the provider does not offer (CaptchaAI: hCaptcha) fails like the real service does
      if (!supportsKind(provider, method)) return { code: 'ERROR_SERVER_ERROR' };
      const sitekey = params.get('sitekey');
      if (!sitekey) return { code: 'ERROR_SITEKEY' };
      if (pageUrlMissing) return { code: 'ERROR_PAGEURL' };
      const proxyError = checkProxy(params);
      return proxyError ? { code: proxyError } : { type: method, sitekey };
    }
    case 'base64': {
      const body = (params.get('body') ?? '').replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) return { code: 'ERROR_UPLOAD' };
      const image = Buffer.from(body, 'base64');
      const sizeError = checkImage(image);
      return sizeError ? { code: sizeError } : { type: 'image', image, imageText: imageTextOptions(params) };
    }
    case 'post': {
      const file = files.get('file');
      if (!file) return { code: 'ERROR_UPLOAD' };
      const extension = file.filename?.split('.').pop()?.toLowerCase();
      if (file.filename?.includes('.') && extension && !IMAGE_EXTENSIONS.has(extension)) return { code: 'ERROR_WRONG_FILE_EXTENSION' };
      const sizeError = checkImage(file.bytes);
      return sizeError ? { code: sizeError } : { type: 'image', image: file.bytes, imageText: imageTextOptions(params) };
    }
    default:
      return { code: 'ERROR_NO_SUCH_METHOD' };
  }
}

// ---- decoding (the legacy family's four encodings) -----------------------------------------------------------------------------------------------------

/** Query string, then the body (form, multipart or JSON) on top: official clients use all four encodings. */
export async function decodeRequest(
  url: URL,
  req: IncomingMessage,
  maxBodyBytes: number,
): Promise<{ params: Map<string, string>; files: Map<string, Upload> }> {
  const params = new Map<string, string>(url.searchParams);
  const files = new Map<string, Upload>();
  if (req.method !== 'POST' && req.method !== 'PUT') return { params, files };
  const body = await readBody(req, maxBodyBytes);
  if (body.length === 0) return { params, files };
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('multipart/form-data')) {
    // undici's fetch Request parses multipart for us, boundary and all
    let form: Awaited<ReturnType<FetchRequest['formData']>>;
    try {
      form = await new FetchRequest('http://simulator/', {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body,
      }).formData();
    } catch {
      return { params, files }; // unreadable multipart: the missing fields produce the provider's own errors
    }
    for (const [name, value] of form) {
      if (typeof value === 'string') params.set(name, value);
      else files.set(name, { filename: value.name, bytes: Buffer.from(await value.arrayBuffer()) });
    }
  } else if (contentType.startsWith('application/json') || looksLikeJsonObject(body)) {
    // a JSON object body is read as JSON whatever its content type: the legacy `2captcha` npm client posts
    // `{"body": …}` as text/plain, and 2captcha accepts it
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      json = undefined; // like the real service: no fields, so the key check answers
    }
    if (json && typeof json === 'object' && !Array.isArray(json)) {
      for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
        if (value === null || value === undefined) continue;
        params.set(name, typeof value === 'object' ? JSON.stringify(value) : String(value));
      }
    }
  } else {
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) params.set(name, value);
  }
  return { params, files };
}

function looksLikeJsonObject(body: Buffer): boolean {
  const text = body.toString('utf8').trim();
  if (!text.startsWith('{') || !text.endsWith('}')) return false;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}
