// Unit tests, no server: the provider key in any case or encoding never becomes a code (normalizeProviderCode) and is
// redacted from any text (redact, containsSecret), whatever surrounds it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UNRECOGNIZED_ANSWER, classifyProviderCode, normalizeProviderCode } from '../src/providers/classify';
import { ProviderTransientError, containsSecret, redact } from '../src/providers/errors';
import { answerError } from '../src/providers/transport';

const KEY = 'SENTINEL/k+y=0123456789abcdef-AB';
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const b64url = (text: string): string => Buffer.from(text).toString('base64url');
const hex = (text: string): string => Buffer.from(text).toString('hex');

/** The key in every spelling an answer may echo it in. */
const SPELLINGS: Record<string, string> = {
  raw: KEY,
  lower: KEY.toLowerCase(),
  upper: KEY.toUpperCase(),
  'mixed case': KEY.replace(/[a-z]/gi, (c, i: number) => (i % 2 ? c.toLowerCase() : c.toUpperCase())),
  'URL-encoded': encodeURIComponent(KEY),
  'URL-encoded twice': encodeURIComponent(encodeURIComponent(KEY)),
  'URL-encoded, lower case': encodeURIComponent(KEY).toLowerCase(),
  base64: b64(KEY),
  'base64, upper case': b64(KEY).toUpperCase(),
  'base64 of the lower-case key': b64(KEY.toLowerCase()),
  base64url: b64url(KEY),
  hex: hex(KEY),
  'hex, upper case': hex(KEY).toUpperCase(),
};

/** What a scan must not find afterwards (any case). */
function holdsKey(text: string): boolean {
  const lower = text.toLowerCase();
  return [KEY, encodeURIComponent(KEY), b64(KEY).replace(/=+$/, ''), b64url(KEY), hex(KEY)].some((n) => lower.includes(n.toLowerCase()));
}

void describe('normalizeProviderCode', () => {
  for (const [name, spelling] of Object.entries(SPELLINGS)) {
    void test(`a code that carries the key (${name}) is UNRECOGNIZED_ANSWER`, () => {
      for (const code of [`ERROR_KEY_${spelling}`, `error_key_${spelling}`, spelling, `ERROR_${spelling}_DENIED`]) {
        assert.equal(normalizeProviderCode(code, KEY), UNRECOGNIZED_ANSWER, code);
      }
    });
  }

  void test('a code-shaped answer carrying an alphanumeric key is refused even without the key at hand', () => {
    const alnumKey = 'ab12cd34ef56ab12cd34ef56ab12cd34';
    assert.equal(normalizeProviderCode(`ERROR_KEY_${alnumKey}`), UNRECOGNIZED_ANSWER);
    assert.equal(normalizeProviderCode(`ERROR_KEY_${alnumKey}`, alnumKey), UNRECOGNIZED_ANSWER);
    assert.equal(classifyProviderCode('2captcha', `ERROR_KEY_${alnumKey.toUpperCase()}`), 'transient');
  });

  void test('real codes still pass, normalized, with the key at hand', () => {
    for (const [code, expected] of [
      ['ERROR_KEY_DOES_NOT_EXIST', 'ERROR_KEY_DOES_NOT_EXIST'],
      [' error_captcha_unsolvable ', 'ERROR_CAPTCHA_UNSOLVABLE'],
      ['ERROR_CAPTCHAIMAGE_BLOCKED', 'ERROR_CAPTCHAIMAGE_BLOCKED'],
      ['CAPCHA_NOT_READY', 'CAPCHA_NOT_READY'],
      ['error:1005', 'ERROR: 1005'],
      ['ERROR_SERVICE_UNAVALIABLE', 'ERROR_SERVICE_UNAVALIABLE'],
    ]) {
      assert.equal(normalizeProviderCode(code!, KEY), expected);
    }
  });
});

void describe('redact and containsSecret', () => {
  for (const [name, spelling] of Object.entries(SPELLINGS)) {
    void test(`the key (${name}) is redacted, wherever it sits in a text`, () => {
      // base64 of a longer string holds the key's bytes at any of three alignments
      for (const text of [`answer ${spelling} end`, `x${spelling}y`, `(${spelling})`]) {
        assert.ok(containsSecret(text, KEY), text);
        const redacted = redact(text, KEY);
        assert.ok(!holdsKey(redacted), `${name}: ${redacted}`);
        assert.match(redacted, /\[REDACTED\]/);
      }
    });
  }

  void test('base64 of a text that embeds the key, at every alignment, is found and redacted', () => {
    for (const prefix of ['', 'E', 'ER', 'ERROR_KEY_', 'ERROR_KEY_x', 'ERROR_KEY_xy']) {
      for (const encode of [b64, b64url]) {
        const text = `code ${encode(`${prefix}${KEY}_TAIL`)}`;
        assert.ok(containsSecret(text, KEY), text);
        assert.doesNotMatch(redact(text, KEY), new RegExp(encode(KEY).slice(4, 36).replace(/[+/]/g, '\\$&'), 'i'));
      }
    }
  });

  void test('text without the key is left as it is', () => {
    const text = 'captchaai submit: ERROR_CAPTCHA_UNSOLVABLE (the captcha could not be solved) U0VOVElORUw=';
    assert.equal(containsSecret(text, KEY), false);
    assert.equal(redact(text, KEY), text);
    assert.equal(redact(text, undefined), text);
    assert.equal(redact(text, ''), text);
  });
});

void describe('answerError', () => {
  for (const [name, spelling] of Object.entries(SPELLINGS)) {
    void test(`an error answer whose code and text echo the key (${name}): code UNRECOGNIZED_ANSWER, no key in the message`, () => {
      for (const provider of ['captchaai', '2captcha-v2'] as const) {
        const err = answerError(provider, KEY, 'submit', `ERROR_KEY_${spelling}`, `key ${spelling} refused`);
        assert.ok(err instanceof ProviderTransientError);
        assert.equal(err.code, UNRECOGNIZED_ANSWER);
        assert.match(err.message, /UNRECOGNIZED_ANSWER \(the answer held the API key: not shown\)/);
        assert.ok(!holdsKey(`${err.message}\n${err.stack}\n${JSON.stringify(err)}`), err.message);
      }
    });
  }

  void test('an unrecognized answer without the key is shown, shortened, for the operator', () => {
    const err = answerError('captchaai', KEY, 'poll 1', 'something odd', undefined);
    assert.equal(err.code, UNRECOGNIZED_ANSWER);
    assert.equal(err.message, 'captchaai poll 1: UNRECOGNIZED_ANSWER (answer: something odd)');
  });
});
