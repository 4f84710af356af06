// The provider factory: configuration in, a CaptchaProvider out. One client per wire family.
import { createLegacyProvider, type LegacyProviderOptions } from './legacy-client';
import { withProviderLimits, type ProviderLimits } from './rate-limit';
import type { CaptchaProvider } from './types';

export type ProviderName = LegacyProviderOptions['name'];

export const DEFAULT_PROVIDER_BASE_URLS: Readonly<Record<ProviderName, string>> = {
  captchaai: 'https://ocr.captchaai.com',
  '2captcha': 'https://2captcha.com',
};

export interface ProviderConfig {
  name: ProviderName;
  apiKey: string;
  /** default: the provider's public host */
  baseUrl?: string;
  /** default 15 000 */
  requestTimeoutMs?: number;
  /** default 32 */
  connections?: number;
  softId?: string | number;
  /** client-side ban rules (./rate-limit); default 60 submits per 3 s, no poll spacing; `false`: none */
  limits?: ProviderLimits | false;
}

export function createProvider({ limits, ...config }: ProviderConfig): CaptchaProvider {
  const limited = (provider: CaptchaProvider) => (limits === false ? provider : withProviderLimits(provider, limits));
  switch (config.name) {
    case 'captchaai':
    case '2captcha':
      return limited(createLegacyProvider({ ...config, baseUrl: config.baseUrl ?? DEFAULT_PROVIDER_BASE_URLS[config.name] }));
    default: {
      const unknown: never = config.name;
      throw new Error(`unknown captcha provider ${String(unknown)}`);
    }
  }
}

export { createLegacyProvider, LegacyProvider, legacySubmitParams, type LegacyProviderOptions } from './legacy-client';
export { classifyProviderCode, providerErrorFor } from './classify';
export { withProviderLimits, DEFAULT_PROVIDER_LIMITS, type LimitedProvider, type ProviderLimits } from './rate-limit';
export * from './errors';
export type { CaptchaProvider, PollAnswer } from './types';
