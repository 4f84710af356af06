// How people write the domain's things: one line per task for the Web UI, intervals as "1h30m". Pure.
import { CAPTCHA_TYPE_LABELS, type CaptchaTask } from './types';

/** One line for the Web UI: "reCAPTCHA v2 6Le-… on https://example.com/page/3". */
export function describeTask(task: CaptchaTask): string {
  return task.type === 'image' ? 'image captcha' : `${CAPTCHA_TYPE_LABELS[task.type]} ${task.sitekey} on ${task.pageUrl}`;
}

/** 5400000 → "1h30m", 2000 → "2s" (schedule intervals, as people write them). */
export function formatInterval(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || `${ms}ms`;
}
