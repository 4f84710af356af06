// Answers that look like the real thing, so clients that check a token's shape (prefix, length) accept them.
import { randomChars, randomInt, type Rng } from './random';

const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const HEX = '0123456789abcdef';
const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const DIGITS = '0123456789';

export type SimCaptchaType = 'recaptcha-v2' | 'recaptcha-v3' | 'hcaptcha' | 'turnstile' | 'image';

import type { ImageTextOptions } from '../providers/legacy-wire';

export type { ImageTextOptions };

/** reCAPTCHA: `03AGdBq2` then ~400 URL-safe characters. */
export function recaptchaToken(rng: Rng): string {
  return `03AGdBq2${randomChars(rng, URL_SAFE, randomInt(rng, 390, 450))}`;
}

/** hCaptcha: `P1_` and a JWT-looking body. */
export function hcaptchaToken(rng: Rng): string {
  return `P1_eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.${randomChars(rng, URL_SAFE, randomInt(rng, 480, 560))}.${randomChars(rng, URL_SAFE, 43)}`;
}

/** Turnstile: `0.` then a URL-safe body and a hex signature. */
export function turnstileToken(rng: Rng): string {
  return `0.${randomChars(rng, URL_SAFE, randomInt(rng, 300, 360))}.${randomChars(rng, HEX, 64)}`;
}

/** Image captchas answer with the short text read from the picture. */
export function imageText(rng: Rng, options: ImageTextOptions = {}): string {
  const min = Math.max(1, options.minLen ?? 4);
  const max = Math.max(min, options.maxLen ?? Math.max(min, 6));
  return randomChars(rng, options.numeric ? DIGITS : LOWER_ALNUM, randomInt(rng, min, max));
}

export function tokenFor(type: SimCaptchaType, rng: Rng, image?: ImageTextOptions): string {
  switch (type) {
    case 'recaptcha-v2':
    case 'recaptcha-v3':
      return recaptchaToken(rng);
    case 'hcaptcha':
      return hcaptchaToken(rng);
    case 'turnstile':
      return turnstileToken(rng);
    case 'image':
      return imageText(rng, image);
  }
}
