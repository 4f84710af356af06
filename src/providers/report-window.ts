// How long after a solve each provider accepts a report on its token (refund or feedback). After it the provider
// answers an error, so we refuse the report first with a clear message. CAPTCHA_REPORT_WINDOW_MS overrides.
import type { ProviderName } from './capabilities';

/** 15 minutes: our default where the provider's docs name no window (the provider's own answer still applies). */
export const DEFAULT_REPORT_WINDOW_MS = 15 * 60_000;

export const REPORT_WINDOW_MS: Readonly<Record<ProviderName, number>> = {
  // no window documented (https://docs.captchaai.com, reportbad / reportgood): our default
  captchaai: DEFAULT_REPORT_WINDOW_MS,
  // no window documented (https://2captcha.com/2captcha-api#complain, res.php reportbad): our default
  '2captcha': DEFAULT_REPORT_WINDOW_MS,
  // no window documented (https://2captcha.com/api-docs/report-incorrect): our default
  '2captcha-v2': DEFAULT_REPORT_WINDOW_MS,
  // "Reports must be sent within 60 seconds of task completion" (https://anti-captcha.com/apidoc/methods/reportIncorrectRecaptcha,
  // …/reportIncorrectImageCaptcha, …/reportCorrectRecaptcha)
  anticaptcha: 60_000,
  // no window documented (https://docs.capsolver.com/guide/api-feedback): our default
  capsolver: DEFAULT_REPORT_WINDOW_MS,
  // no report endpoint (src/providers/capabilities.ts): a report is refused by the client anyway
  capmonster: DEFAULT_REPORT_WINDOW_MS,
};

/** The window in force: the override (CAPTCHA_REPORT_WINDOW_MS) or the provider's. */
export function reportWindowMs(provider: ProviderName, override?: number): number {
  return override ?? REPORT_WINDOW_MS[provider];
}
