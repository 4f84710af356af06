// What each provider can do, as its public docs say, in one table shared by the simulator (src/simulator) and our
// clients (./json-client, ./legacy-client) so that the two cannot drift apart. Each row names its source.
// Rows covered by test/capabilities.test.ts against the simulator.
import type { JsonProviderName, LegacyProviderName } from './classify';

/** The captcha kinds the product solves (src/domain/types `CaptchaTask["type"]`). */
export type CaptchaKind = 'recaptcha-v2' | 'recaptcha-v3' | 'hcaptcha' | 'turnstile' | 'image';
export const CAPTCHA_KINDS = ['recaptcha-v2', 'recaptcha-v3', 'hcaptcha', 'turnstile', 'image'] as const satisfies readonly CaptchaKind[];

/** What our JSON client sends for each kind; enterprise variants are named apart. */
export type JsonTaskKind = CaptchaKind | 'recaptcha-v2-enterprise' | 'recaptcha-v3-enterprise';

export type ProviderName = LegacyProviderName | JsonProviderName;

export interface PollRules {
  /** least gap between two polls of one task (ERROR_TOO_MUCH_REQUESTS when shorter); 0: none */
  minIntervalMs: number;
  /** the kinds the spacing covers */
  spacedKinds: readonly CaptchaKind[];
  /** polls of one task before its result is lost; Infinity: no cap documented */
  maxPollsPerTask: number;
}

export interface ProviderCapabilities {
  protocol: 'legacy' | 'json';
  /** kinds the provider solves */
  kinds: readonly CaptchaKind[];
  poll: PollRules;
  /** requests beyond submit / poll: res.php actions (legacy) or endpoints (JSON) */
  extraActions: readonly string[];
}

export interface JsonCapabilities extends ProviderCapabilities {
  protocol: 'json';
  /** the name our client sends per kind (the proxy-less one) */
  typeNames: Readonly<Record<JsonTaskKind, string>>;
  /** more names the provider accepts: long-standing legacy aliases */
  aliases: Readonly<Record<string, CaptchaKind>>;
  /** a proxy-less name minus this suffix is its proxy variant */
  proxylessSuffix: string;
  /** errorDescription per errorCode, as the provider's error list words it */
  errorTexts: Readonly<Record<string, string>>;
  /** errorDescription of a code the list lacks */
  genericErrorText: string;
  /** how task ids look on the wire: JSON numbers, or UUID strings */
  taskIds: 'integer' | 'uuid';
  /** kinds whose solution comes with the createTask answer (then `status: ready`), not from a later poll */
  answeredByCreate: readonly CaptchaKind[];
}

const ALL_KINDS = CAPTCHA_KINDS;
const TOKEN_KINDS = ['recaptcha-v2', 'recaptcha-v3', 'hcaptcha', 'turnstile'] as const satisfies readonly CaptchaKind[];
const NO_SPACING: PollRules = { minIntervalMs: 0, spacedKinds: [], maxPollsPerTask: Infinity };

export const LEGACY_CAPABILITIES: Readonly<Record<LegacyProviderName, ProviderCapabilities>> = {
  // https://docs.captchaai.com (token types: reCAPTCHA v2/v3, Turnstile, … — no hCaptcha; normal image captchas;
  // "threadsinfo": the thread plan, called by its official SDK when it is constructed; getbalance; reportbad/good)
  captchaai: {
    protocol: 'legacy',
    kinds: ['recaptcha-v2', 'recaptcha-v3', 'turnstile', 'image'],
    poll: NO_SPACING,
    // get-multi (`action=get&ids=`): 2captcha's; not found in CaptchaAI's docs — listed because our legacy client's
    // batched poll uses it on either provider and the simulator serves it; to be confirmed against the real service
    extraActions: ['getbalance', 'reportgood', 'reportbad', 'threadsinfo', 'get-multi'],
  },
  // https://2captcha.com/2captcha-api (all kinds; res.php getbalance, reportgood / reportbad, get with ids=)
  '2captcha': {
    protocol: 'legacy',
    kinds: ALL_KINDS,
    poll: NO_SPACING,
    extraActions: ['getbalance', 'reportgood', 'reportbad', 'get-multi'],
  },
};

/** The names 2captcha v2 and anti-captcha share. */
const STANDARD_TYPE_NAMES = {
  'recaptcha-v2': 'RecaptchaV2TaskProxyless',
  'recaptcha-v2-enterprise': 'RecaptchaV2EnterpriseTaskProxyless',
  'recaptcha-v3': 'RecaptchaV3TaskProxyless',
  'recaptcha-v3-enterprise': 'RecaptchaV3TaskProxyless',
  hcaptcha: 'HCaptchaTaskProxyless',
  turnstile: 'TurnstileTaskProxyless',
  image: 'ImageToTextTask',
} as const;

export const JSON_CAPABILITIES: Readonly<Record<JsonProviderName, JsonCapabilities>> = {
  // task types https://2captcha.com/api-docs (API v2); errors https://2captcha.com/api-docs/error-codes
  '2captcha-v2': {
    protocol: 'json',
    kinds: ALL_KINDS,
    typeNames: STANDARD_TYPE_NAMES,
    aliases: {},
    proxylessSuffix: 'Proxyless',
    poll: NO_SPACING,
    taskIds: 'integer',
    answeredByCreate: [],
    extraActions: ['getBalance', 'reportCorrect', 'reportIncorrect'],
    errorTexts: {
      ERROR_KEY_DOES_NOT_EXIST: 'Your API key is incorrect. Make sure you set the key correctly and copied it from the dashboard.',
      ERROR_NO_SLOT_AVAILABLE: 'Your bid is too low for the captcha you submit or the queue of your captchas is too long.',
      ERROR_ZERO_CAPTCHA_FILESIZE: 'Image size is less than 100 bytes.',
      ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'Image size is more than 100 kB or image is bigger than 600px on any side.',
      ERROR_ZERO_BALANCE: 'You don\'t have funds on your account.',
      ERROR_IP_NOT_ALLOWED: 'The request is sent from the IP that is not on the list of your trusted IPs.',
      ERROR_CAPTCHA_UNSOLVABLE: 'We are unable to solve your captcha - three of our workers were unable to solve it.',
      ERROR_NO_SUCH_CAPCHA_ID: 'You\'ve provided incorrect captcha ID in the request.',
      ERROR_IP_BLOCKED: 'Your IP address is banned due to improper use of the API.',
      ERROR_TASK_ABSENT: 'task property is missing in your call to createTask method.',
      ERROR_TASK_NOT_SUPPORTED: 'task property in your call to createTask method contains the type of task that is not supported by our API or you have an error in type property.',
      ERROR_RECAPTCHA_INVALID_SITEKEY: 'The sitekey value provided in your request is not valid.',
      ERROR_BAD_PARAMETERS: 'The required captcha parameters in your request are missing or have incorrect format.',
      ERROR_IMAGE_TYPE_NOT_SUPPORTED: 'The server cannot recognize the image file type.',
    },
    genericErrorText: 'The request could not be processed.',
  },
  // task types https://anti-captcha.com/apidoc (NoCaptchaTask / NoCaptchaTaskProxyless: the old reCAPTCHA v2 names,
  // https://anti-captcha.com/apidoc/task-types/NoCaptchaTaskProxyless); errors https://anti-captcha.com/apidoc/errors
  anticaptcha: {
    protocol: 'json',
    kinds: ALL_KINDS,
    typeNames: STANDARD_TYPE_NAMES,
    aliases: { NoCaptchaTaskProxyless: 'recaptcha-v2' },
    proxylessSuffix: 'Proxyless',
    poll: NO_SPACING,
    taskIds: 'integer',
    answeredByCreate: [],
    extraActions: ['getBalance', 'reportCorrectRecaptcha', 'reportIncorrectRecaptcha', 'reportIncorrectImageCaptcha'],
    errorTexts: {
      ERROR_KEY_DOES_NOT_EXIST: 'Account authorization key not found in the system. Make sure you copied it correctly without spaces or tabulation signs.',
      ERROR_NO_SLOT_AVAILABLE: 'No idle captcha workers are available at the moment.',
      ERROR_ZERO_CAPTCHA_FILESIZE: 'The size of the captcha you are uploading is less than 100 bytes.',
      ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'The size of the captcha you are uploading is more than 500,000 bytes.',
      ERROR_ZERO_BALANCE: 'Account has zero or negative balance.',
      ERROR_IP_NOT_ALLOWED: 'You are not allowed to make requests from your IP with your current account key.',
      ERROR_CAPTCHA_UNSOLVABLE: '5 different workers were unable to solve the captcha.',
      ERROR_NO_SUCH_METHOD: 'Request to API made with method which does not exist.',
      ERROR_IMAGE_TYPE_NOT_SUPPORTED: 'Could not determine captcha file type by its exif header or image type is not supported.',
      ERROR_NO_SUCH_CAPCHA_ID: 'The captcha you are requesting does not exist in your current captchas list or has been expired.',
      ERROR_IP_BLOCKED: 'Your IP is blocked due to API inproper use.',
      ERROR_TASK_ABSENT: 'Task property is empty or not set in the createTask method.',
      ERROR_TASK_NOT_SUPPORTED: 'Task type is not supported or inproperly printed. Please check "type" parameter in task object.',
      ERROR_RECAPTCHA_INVALID_SITEKEY: 'Recaptcha server reported that site key is invalid.',
      ERROR_BAD_PARAMETERS: 'Some task parameters are missing or have incorrect values.',
    },
    genericErrorText: 'The request could not be processed.',
  },
  // task types https://docs.capsolver.com/guide/captcha/ReCaptchaV2.html and siblings; getTaskResult (120 polls a
  // task; ImageToText answered by createTask) https://docs.capsolver.com/guide/api-gettaskresult;
  // errors https://docs.capsolver.com/guide/api-error; feedbackTask https://docs.capsolver.com/guide/api-feedback;
  // UUID task ids and image tasks answered by createTask https://docs.capsolver.com/guide/api-createtask
  capsolver: {
    protocol: 'json',
    kinds: ALL_KINDS,
    typeNames: {
      'recaptcha-v2': 'ReCaptchaV2TaskProxyLess',
      'recaptcha-v2-enterprise': 'ReCaptchaV2EnterpriseTaskProxyLess',
      'recaptcha-v3': 'ReCaptchaV3TaskProxyLess',
      'recaptcha-v3-enterprise': 'ReCaptchaV3EnterpriseTaskProxyLess',
      hcaptcha: 'HCaptchaTaskProxyLess',
      turnstile: 'AntiTurnstileTaskProxyLess',
      image: 'ImageToTextTask',
    },
    aliases: {},
    proxylessSuffix: 'ProxyLess',
    poll: { minIntervalMs: 0, spacedKinds: [], maxPollsPerTask: 120 },
    taskIds: 'uuid',
    answeredByCreate: ['image'],
    extraActions: ['getBalance', 'feedbackTask'],
    errorTexts: {
      ERROR_SERVICE_UNAVALIABLE: 'Service is temporarily unavailable',
      ERROR_RATE_LIMIT: 'Request frequency/rate limit',
      ERROR_BAD_REQUEST: 'Error Request',
      ERROR_TASKID_INVALID: 'Task ID does not exist or is invalid',
      ERROR_TASK_TIMEOUT: 'The task has timed out',
      ERROR_KEY_DENIED_ACCESS: 'Access denied: the clientKey is wrong or disabled',
      ERROR_ZERO_BALANCE: 'Insufficient balance',
      ERROR_CAPTCHA_SOLVE_FAILED: 'Captcha recognition failed',
      ERROR_INVALID_IMAGE: 'Invalid image',
      ERROR_IP_BANNED: 'IP banned',
    },
    genericErrorText: 'Error Request',
  },
  // task types https://docs.capmonster.cloud/docs/captchas/no-captcha-task (its official JS client sends
  // NoCaptchaTask / NoCaptchaTaskProxyless for reCAPTCHA v2); getTaskResult (120 polls a task)
  // https://docs.capmonster.cloud/docs/api/methods/get-task-result/; errors, with ERROR_TOO_MUCH_REQUESTS "no more
  // than 1 time in 2 seconds", https://zennolab.atlassian.net/wiki/spaces/APIS/pages/295396/Error+Types; image
  // recognition answers "within an interval from 300ms to 6s" (https://docs.capmonster.cloud/docs/captchas/image-to-text)
  // and the official client polls it every 200 ms: the 2-s spacing covers token tasks only. No report endpoint.
  capmonster: {
    protocol: 'json',
    kinds: ALL_KINDS,
    typeNames: {
      'recaptcha-v2': 'RecaptchaV2TaskProxyless',
      'recaptcha-v2-enterprise': 'RecaptchaV2EnterpriseTask',
      'recaptcha-v3': 'RecaptchaV3TaskProxyless',
      'recaptcha-v3-enterprise': 'RecaptchaV3TaskProxyless',
      hcaptcha: 'HCaptchaTaskProxyless',
      turnstile: 'TurnstileTaskProxyless',
      image: 'ImageToTextTask',
    },
    aliases: { NoCaptchaTaskProxyless: 'recaptcha-v2' },
    proxylessSuffix: 'Proxyless',
    poll: { minIntervalMs: 2_000, spacedKinds: TOKEN_KINDS, maxPollsPerTask: 120 },
    taskIds: 'integer',
    answeredByCreate: [],
    extraActions: ['getBalance'],
    errorTexts: {
      ERROR_KEY_DOES_NOT_EXIST: 'Account authorization key not found in the system or has incorrect format.',
      ERROR_ZERO_CAPTCHA_FILESIZE: 'The size of the captcha you are uploading is less than 100 bytes.',
      ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'The size of the captcha you are uploading is more than 500,000 bytes.',
      ERROR_ZERO_BALANCE: 'Account has zero balance. Add funds to continue recognition.',
      ERROR_IP_NOT_ALLOWED: 'Request with current account key is not allowed from your IP.',
      ERROR_CAPTCHA_UNSOLVABLE: 'This type of captchas is not supported by the service or the image does not contain an answer.',
      ERROR_NO_SUCH_CAPCHA_ID: 'The captcha that you are requesting was not found. Make sure you are requesting a status update only within 5 minutes of uploading.',
      ERROR_IP_BANNED: 'You have exceeded the limit of requests with the wrong api key.',
      ERROR_NO_SUCH_METHOD: 'Incorrect captcha type (value of the «type» parameter).',
      ERROR_TOO_MUCH_REQUESTS: 'You have exceeded the limit of requests to receive an answer for one task. Try to request the result of the task no more than 1 time in 2 seconds.',
      ERROR_NO_SLOT_AVAILABLE: 'No idle workers are available at the moment.',
      ERROR_RECAPTCHA_INVALID_SITEKEY: 'The site key is invalid.',
    },
    genericErrorText: 'The request could not be processed.',
  },
};

export const CAPABILITIES: Readonly<Record<ProviderName, ProviderCapabilities>> = { ...LEGACY_CAPABILITIES, ...JSON_CAPABILITIES };

/** The kind a task's enterprise flag leaves it (both share the provider's support). */
function baseKind(kind: JsonTaskKind): CaptchaKind {
  return kind === 'recaptcha-v2-enterprise' ? 'recaptcha-v2' : kind === 'recaptcha-v3-enterprise' ? 'recaptcha-v3' : kind;
}

/** Every type name a JSON provider accepts → its kind: our names, the aliases, and their proxy variants. */
export function acceptedTypeNames(name: JsonProviderName): ReadonlyMap<string, CaptchaKind> {
  const caps = JSON_CAPABILITIES[name];
  const out = new Map<string, CaptchaKind>();
  const add = (type: string, kind: CaptchaKind): void => {
    if (!caps.kinds.includes(kind)) return;
    out.set(type, kind);
    if (type.endsWith(caps.proxylessSuffix)) out.set(type.slice(0, -caps.proxylessSuffix.length), kind);
  };
  for (const [kind, type] of Object.entries(caps.typeNames) as [JsonTaskKind, string][]) add(type, baseKind(kind));
  for (const [type, kind] of Object.entries(caps.aliases)) add(type, kind);
  return out;
}

/** Whether a provider solves a kind. */
export function supportsKind(provider: ProviderName, kind: CaptchaKind): boolean {
  return CAPABILITIES[provider].kinds.includes(kind);
}

/** The providers that solve a kind, for a message naming them. */
export function providersSupporting(kind: CaptchaKind): ProviderName[] {
  return (Object.keys(CAPABILITIES) as ProviderName[]).filter((provider) => supportsKind(provider, kind));
}
