// What a paid submit costs, per provider and captcha type, in integer micro-units of USD (1 USD = 1 000 000), so that
// sums never drift. Plain data and pure functions: safe for the workflow sandbox. The worker charges each submit by
// this table (activities/solve.ts), the simulator's ledger charges by the same one (src/simulator/stats.ts), and a
// configuration may override any price (CAPTCHA_PRICES, src/config.ts).
import type { CaptchaType } from './types';

/** Micro-USD per paid submit, by provider name and captcha type. */
export type PriceTable = Readonly<Record<string, Readonly<Partial<Record<CaptchaType, number>>>>>;

/** 1 USD per 1000 submits is 1000 micro-USD per submit. */
export const MICROS_PER_USD = 1_000_000;

/** USD per 1000 submits → micro-USD per submit, rounded to a whole micro-USD. */
export function per1000ToMicros(usdPer1000: number): number {
  return Math.round(usdPer1000 * 1000);
}

const per1000 = (prices: Partial<Record<CaptchaType, number>>): Partial<Record<CaptchaType, number>> =>
  Object.fromEntries(Object.entries(prices).map(([type, usd]) => [type, per1000ToMicros(usd)]));

/**
 * Defaults from the providers' public price lists (USD per 1000). Prices move with load and plans: override them with
 * CAPTCHA_PRICES. Where a list gave no figure for a type, the row says so and uses the provider's token-captcha rate.
 */
export const DEFAULT_PRICES: PriceTable = {
  // CaptchaAI sells monthly thread plans, not submits ("fixed price from $13.5/month for 5 captcha threads",
  // github.com/TheGP/Everything-About-Captchas; blog.captchaai.com/captchaai-thread-limit-upgrade-guide: "pricing is
  // based on concurrent threads"): a submit costs nothing more. Set CAPTCHA_PRICES to amortise a plan.
  captchaai: per1000({ 'recaptcha-v2': 0, 'recaptcha-v3': 0, hcaptcha: 0, turnstile: 0, image: 0 }),
  // 2captcha's API rates ("ReCaptcha V2 $2.99 … solved via token"; a copy of 2captcha.com/2captcha-api, scribd.com
  // document 421921075) and 2captcha.com/order-captchas ("From $0.5 to $1 for 1000 CAPTCHAs solved": the peak bid).
  // v3, hCaptcha, Turnstile: no figure found; the token rate.
  '2captcha': per1000({ 'recaptcha-v2': 2.99, 'recaptcha-v3': 2.99, hcaptcha: 2.99, turnstile: 2.99, image: 1 }),
  '2captcha-v2': per1000({ 'recaptcha-v2': 2.99, 'recaptcha-v3': 2.99, hcaptcha: 2.99, turnstile: 2.99, image: 1 }),
  // anti-captcha's official npm package (@antiadmin/anticaptchaofficial README): "$0.5 per 1000 for images and $2 for
  // 1000 Recaptchas". hCaptcha, Turnstile: no figure found; the Recaptcha rate.
  anticaptcha: per1000({ 'recaptcha-v2': 2, 'recaptcha-v3': 2, hcaptcha: 2, turnstile: 2, image: 0.5 }),
  // reCAPTCHA v2 "Capsolver - AI. $0.8" (github.com/TheGP/Everything-About-Captchas, a comparison, not CapSolver's
  // own page); the other types: no figure found, the same rate.
  capsolver: per1000({ 'recaptcha-v2': 0.8, 'recaptcha-v3': 0.8, hcaptcha: 0.8, turnstile: 0.8, image: 0.8 }),
  // reCAPTCHA v2 "CapMonster - AI. $0.6" (github.com/TheGP/Everything-About-Captchas); reCAPTCHA v3 "from $0.90 per
  // 1,000 solves" (capmonstercloud/capmonster-client on packagist.org). hCaptcha, Turnstile, image: no figure found;
  // the v2 rate.
  capmonster: per1000({ 'recaptcha-v2': 0.6, 'recaptcha-v3': 0.9, hcaptcha: 0.6, turnstile: 0.6, image: 0.6 }),
};

/** The cost of one paid submit; a provider or type the table lacks costs 0 (and says nothing about a budget). */
export function submitCostMicros(table: PriceTable, provider: string, type: CaptchaType): number {
  const price = table[provider]?.[type];
  return typeof price === 'number' && Number.isSafeInteger(price) && price >= 0 ? price : 0;
}

/** The defaults with `overrides` on top, type by type. */
export function mergePrices(overrides: PriceTable = {}, base: PriceTable = DEFAULT_PRICES): PriceTable {
  const merged: Record<string, Partial<Record<CaptchaType, number>>> = {};
  for (const [provider, prices] of Object.entries(base)) merged[provider] = { ...prices };
  for (const [provider, prices] of Object.entries(overrides)) merged[provider] = { ...merged[provider], ...prices };
  return merged;
}

/** "$1.234567" trimmed to cents when exact ("$5.00"), else to the micro-USD ("$0.002990"). */
export function formatUsd(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(Math.round(micros));
  const dollars = Math.floor(abs / MICROS_PER_USD);
  const frac = String(abs % MICROS_PER_USD).padStart(6, '0');
  return `${sign}$${dollars}.${frac.endsWith('0000') ? frac.slice(0, 2) : frac}`;
}

/** Largest budget accepted: one million USD. */
export const MAX_BUDGET_MICROS = 1_000_000 * MICROS_PER_USD;

/**
 * A budget in USD as people type it ("5", "5.00", "0.5") → micro-USD; a sentence naming what is wrong otherwise.
 * At most six decimals, not negative, at most MAX_BUDGET_MICROS.
 */
export function parseBudgetUsd(text: unknown): { micros: number } | { error: string } {
  const s = typeof text === 'number' ? String(text) : typeof text === 'string' ? text.trim().replace(/^\$/, '') : '';
  if (!/^\d{1,7}(\.\d{1,6})?$/.test(s)) {
    return { error: `budget ${JSON.stringify(String(text ?? ''))} is not an amount in USD: give a number of dollars that is not negative, such as 5.00` };
  }
  const [whole, frac = ''] = s.split('.');
  const micros = Number(whole) * MICROS_PER_USD + Number(frac.padEnd(6, '0'));
  if (micros > MAX_BUDGET_MICROS) return { error: `budget ${s} USD is over the largest accepted, ${formatUsd(MAX_BUDGET_MICROS)}` };
  return { micros };
}
