// The provider factory: configuration in, a CaptchaProvider out. One client per wire family.
import { JSON_DIALECTS, createJsonProvider, type JsonProviderName } from './json-client';
import { createLegacyProvider, type LegacyProviderOptions } from './legacy-client';
import { CAPABILITIES } from './capabilities';
import { withCallObserver, type ProviderCallHook } from './observe';
import { canPollMany, withPollCoalescing } from './poll-coalescer';
import { withProviderLimits, type ProviderLimits } from './rate-limit';
import type { CaptchaProvider } from './types';

export type ProviderName = LegacyProviderOptions['name'] | JsonProviderName;

export const DEFAULT_PROVIDER_BASE_URLS: Readonly<Record<ProviderName, string>> = {
  captchaai: 'https://ocr.captchaai.com',
  '2captcha': 'https://2captcha.com',
  '2captcha-v2': JSON_DIALECTS['2captcha-v2'].defaultBaseUrl,
  anticaptcha: JSON_DIALECTS.anticaptcha.defaultBaseUrl,
  capsolver: JSON_DIALECTS.capsolver.defaultBaseUrl,
  capmonster: JSON_DIALECTS.capmonster.defaultBaseUrl,
};

export interface ProviderConfig {
  name: ProviderName;
  apiKey: string;
  /** default: the provider's public host */
  baseUrl?: string;
  /** default 15 000 */
  requestTimeoutMs?: number;
  /** how long a sent submit waits for its answer; default 60 000 (a submit that reached the provider is paid) */
  submitTimeoutMs?: number;
  /** default 32 */
  connections?: number;
  softId?: string | number;
  /** client-side ban rules (./rate-limit); default 60 submits per 3 s, no poll spacing; `false`: none */
  limits?: ProviderLimits | false;
  /** told about every provider call (endpoint, outcome, duration): the worker's metrics (./observe) */
  onCall?: ProviderCallHook;
  /**
   * Polls of many tasks within this many ms go out as one request, for providers with the `get-multi` capability
   * (./poll-coalescer); 0 or absent: one request per poll.
   */
  pollCoalesceMs?: number;
}

export function createProvider({ limits, onCall, pollCoalesceMs, ...config }: ProviderConfig): CaptchaProvider {
  // the observer sits inside the coalescer and the limiter: it sees the requests that reach the provider, not the
  // waits before them; the limiter spaces the polls of each task before they join a batch
  const limited = (client: CaptchaProvider) => {
    const observed = onCall ? withCallObserver(client, onCall) : client;
    const coalesce = (pollCoalesceMs ?? 0) > 0 && CAPABILITIES[config.name].extraActions.includes('get-multi') && canPollMany(observed);
    const provider = coalesce ? withPollCoalescing(observed, { tickMs: pollCoalesceMs! }) : observed;
    return limits === false ? provider : withProviderLimits(provider, limits);
  };
  const baseUrl = config.baseUrl ?? DEFAULT_PROVIDER_BASE_URLS[config.name];
  switch (config.name) {
    case 'captchaai':
    case '2captcha':
      return limited(createLegacyProvider({ ...config, name: config.name, baseUrl }));
    case '2captcha-v2':
    case 'anticaptcha':
    case 'capsolver':
    case 'capmonster':
      return limited(createJsonProvider({ ...config, name: config.name, baseUrl }));
    default: {
      const unknown: never = config.name;
      throw new Error(`unknown captcha provider ${String(unknown)}`);
    }
  }
}

export { createLegacyProvider, LegacyProvider, legacySubmitParams, type LegacyProviderOptions } from './legacy-client';
export { createJsonProvider, JsonProvider, jsonTaskFor, JSON_DIALECTS, JSON_PROVIDERS, type JsonProviderName, type JsonProviderOptions } from './json-client';
export { withCallObserver, wireEndpoint, type ProviderCall, type ProviderCallHook, type ProviderCallOutcome } from './observe';
export { classifyProviderCode, providerErrorFor } from './classify';
export { CAPABILITIES, CAPTCHA_KINDS, JSON_CAPABILITIES, LEGACY_CAPABILITIES, acceptedTypeNames, providersSupporting, supportsKind, type CaptchaKind } from './capabilities';
export { PollCoalescer, withPollCoalescing, canPollMany, MULTI_POLL_MAX_IDS, type PollCoalescerOptions, type PollCoalescerStats } from './poll-coalescer';
export { withProviderLimits, DEFAULT_PROVIDER_LIMITS, type LimitedProvider, type ProviderLimits } from './rate-limit';
export * from './errors';
export type { CaptchaProvider, MultiPollProvider, PollAnswer, SubmitOptions, ThreadPlan } from './types';
