// Captcha tasks as users write them, validated with zod before anything starts. Errors point at the item and field.
import { z } from 'zod';
import type { CaptchaTask } from '../domain/types';

// Every field here goes on the wire to the provider: bounded, and free of control characters (NUL, BEL, CR, LF, …),
// which a URL parser would silently drop and a provider would see.
const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const noControl = { error: 'must not contain control characters (NUL, tab, newline, …)' };
const wireText = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((v) => !CONTROL.test(v), noControl);
const httpUrl = z
  .string()
  .max(2_000, 'must be at most 2,000 characters')
  .refine((v) => !CONTROL.test(v), noControl)
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }));
const sitekey = z
  .string()
  .trim()
  .min(8, 'must be a sitekey of at least 8 characters')
  .max(200, 'must be at most 200 characters')
  .regex(/^[\x21-\x7E]+$/, 'may contain only printable ASCII characters without spaces');
const taskKey = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:@-]+$/, 'may contain only letters, digits and . _ : @ -');

/** Largest image body: ~1 MB of image (providers take far less; one payload must stay under Temporal's 2 MB). */
const IMAGE_BASE64_MAX = 1_400_000;

/** Every option, each with its rule; each captcha type accepts only the ones that mean something for it. */
const option = {
  invisible: z.boolean(),
  enterprise: z.boolean(),
  action: wireText(200).min(1, 'must not be empty'),
  minScore: z.union([z.literal(0.3), z.literal(0.7), z.literal(0.9)], { error: 'must be 0.3, 0.7 or 0.9' }),
  data: wireText(10_000),
  pageData: wireText(10_000),
  userAgent: wireText(1_000),
  proxy: wireText(500).regex(/^[^\s@]+(:[^\s@]*)?@[^\s:]+:\d{1,5}$|^[^\s:@]+:\d{1,5}$/, 'must be login:pass@host:port or host:port'),
  proxyType: z.enum(['HTTP', 'HTTPS', 'SOCKS4', 'SOCKS5']),
};
type OptionName = keyof typeof option;

/** Options of one captcha type: the common ones (user agent, proxy) plus `names`; any other key is refused by name. */
const optionsFor = (...names: OptionName[]) =>
  z
    .object(Object.fromEntries(['userAgent', 'proxy', 'proxyType', ...names].map((name) => [name, option[name as OptionName]])))
    .partial()
    .strict()
    .refine((o) => o.proxyType === undefined || o.proxy !== undefined, { error: 'proxyType needs a proxy', path: ['proxyType'] });

/** Per type: reCAPTCHA v2 (invisible, enterprise, data-s), v3 (action, min score, enterprise), hCaptcha (invisible, rqdata), Turnstile (action, cData, pagedata). */
const OPTIONS = {
  'recaptcha-v2': optionsFor('invisible', 'enterprise', 'data'),
  'recaptcha-v3': optionsFor('action', 'minScore', 'enterprise'),
  hcaptcha: optionsFor('invisible', 'data'),
  turnstile: optionsFor('action', 'data', 'pageData'),
  image: optionsFor(),
};

const tokenTask = <T extends Exclude<keyof typeof OPTIONS, 'image'>>(type: T) =>
  z.object({ type: z.literal(type), sitekey, pageUrl: httpUrl, key: taskKey.optional(), options: OPTIONS[type].optional() }).strict();

export const captchaTaskSchema = z.discriminatedUnion(
  'type',
  [
    tokenTask('recaptcha-v2'),
    tokenTask('recaptcha-v3'),
    tokenTask('hcaptcha'),
    tokenTask('turnstile'),
    z
      .object({
        type: z.literal('image'),
        body: z
          .base64({ error: 'must be a base64 image' })
          .min(100, 'is too short to be an image')
          .max(IMAGE_BASE64_MAX, `must be at most ${IMAGE_BASE64_MAX} base64 characters (a ~1 MB image)`),
        key: taskKey.optional(),
        options: OPTIONS.image.optional(),
      })
      .strict(),
  ],
  { error: 'type must be one of recaptcha-v2, recaptcha-v3, hcaptcha, turnstile, image' },
);

export class TaskValidationError extends Error {
  override readonly name = 'TaskValidationError';
  constructor(
    readonly problems: { index?: number; line?: number; field: string; message: string }[],
    where = 'task',
  ) {
    super(
      `invalid ${where}:\n  ` +
        problems
          .slice(0, 20)
          .map((p) => `${p.line !== undefined ? `line ${p.line}` : p.index !== undefined ? `item ${p.index}` : 'task'}: ${p.field}: ${p.message}`)
          .join('\n  ') +
        (problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ''),
    );
  }
}

export function parseTask(input: unknown, index?: number, line?: number): CaptchaTask {
  const parsed = captchaTaskSchema.safeParse(input);
  if (parsed.success) return parsed.data as CaptchaTask;
  throw new TaskValidationError(
    parsed.error.issues.map((issue) => ({
      ...(index !== undefined && { index }),
      ...(line !== undefined && { line }),
      field: issue.path.join('.') || '(task)',
      message: issue.message,
    })),
  );
}

/** Validates a whole list; task keys must be unique (they name the child workflows). Keys are filled in from the index. */
export function parseTasks(input: unknown[], firstIndex = 0): (CaptchaTask & { key: string })[] {
  const problems: TaskValidationError['problems'] = [];
  const seen = new Map<string, number>();
  const tasks: (CaptchaTask & { key: string })[] = [];
  input.forEach((raw, i) => {
    const index = firstIndex + i;
    try {
      const task = parseTask(raw, index);
      const key = task.key ?? String(index);
      const previous = seen.get(key);
      if (previous !== undefined) problems.push({ index, field: 'key', message: `duplicates the key of item ${previous}` });
      seen.set(key, index);
      tasks.push({ ...task, key });
    } catch (err) {
      if (err instanceof TaskValidationError) problems.push(...err.problems);
      else throw err;
    }
  });
  if (problems.length) throw new TaskValidationError(problems, 'tasks');
  return tasks;
}
