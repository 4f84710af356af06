// The bench's spend figures (bench/cost.ts): the simulator's ledger in USD, per solve and wasted on paid submits that
// brought no token; a ledger of a flavour that sells no submits (captchaai's thread plans) priced at 2captcha's rate.
// And the Temporal Cloud actions the bench counts in a history (bench/histories.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { costFigures, costOf, costSentence } from '../bench/cost';
import { countActions } from '../bench/histories';
import { DEFAULT_PRICES } from '../src/domain/prices';

const V2 = DEFAULT_PRICES['2captcha']!['recaptcha-v2']!; // 2990 micro-USD

describe('bench spend', () => {
  test('a 2captcha ledger: spent as charged, per solve, and the paid submits without a token as waste', () => {
    const cost = costOf({ paidSubmits: 5, spentMicros: 5 * V2 }, 4, 'recaptcha-v2', '2captcha');
    assert.equal(cost.spentMicros, 14_950);
    assert.equal(cost.perSolveMicros, 14_950 / 4);
    assert.equal(cost.wastedMicros, V2);
    assert.equal(costSentence(cost), 'spent $0.014950, $0.003738 per solve, $0.002990 wasted on failures');
    const [spent, perSolve] = costFigures('7', 'ours', cost);
    assert.equal(spent!.value, 0.01495);
    assert.equal(spent!.unit, 'USD');
    assert.match(spent!.note ?? '', /5 paid submits for 4 solves; wasted on failures \$0\.002990 \(1 paid submits without a token\)/);
    assert.equal(perSolve!.value, 0.003738);
  });

  test("a captchaai ledger (thread plans, $0 a submit) is priced at 2captcha's rate and says so", () => {
    const cost = costOf({ paidSubmits: 300, spentMicros: 0 }, 300, 'recaptcha-v2', 'captchaai');
    assert.equal(cost.spentMicros, 300 * V2);
    assert.equal(cost.wastedMicros, 0);
    assert.match(cost.pricedAs, /300 paid submits at 2captcha's recaptcha-v2 rate, \$0\.002990 each \(captchaai sells thread plans/);
  });

  test('nothing solved: no per-solve figure, everything wasted', () => {
    const cost = costOf({ paidSubmits: 2, spentMicros: 2 * V2 }, 0, 'recaptcha-v2', '2captcha');
    assert.equal(costFigures('3', 'x', cost)[1]!.value, null);
    assert.equal(cost.wastedMicros, 2 * V2);
    assert.match(costSentence(cost), /spent \$0\.005980, nothing solved, \$0\.005980 wasted on failures/);
  });
});

test('Cloud actions of a history: local activities once per workflow task, no patch marker, no TemporalChangeVersion upsert', () => {
  const ev = (e: Record<string, unknown>, id: number) => ({ eventId: String(id), ...e });
  const history = {
    events: [
      ev({ workflowExecutionStartedEventAttributes: {} }, 1),
      ev({ markerRecordedEventAttributes: { markerName: 'core_patch', workflowTaskCompletedEventId: '4' } }, 5),
      ev({ upsertWorkflowSearchAttributesEventAttributes: { searchAttributes: { indexedFields: { TemporalChangeVersion: {} } } } }, 6),
      ev({ markerRecordedEventAttributes: { markerName: 'core_local_activity', workflowTaskCompletedEventId: '4' } }, 7),
      ev({ markerRecordedEventAttributes: { markerName: 'core_local_activity', workflowTaskCompletedEventId: '4' } }, 8),
      ev({ markerRecordedEventAttributes: { markerName: 'core_local_activity', workflowTaskCompletedEventId: '12' } }, 13),
      ev({ activityTaskStartedEventAttributes: { attempt: 2 } }, 15),
      ev({ upsertWorkflowSearchAttributesEventAttributes: { searchAttributes: { indexedFields: { CaptchaOutcome: {} } } } }, 17),
    ],
  } as unknown as Parameters<typeof countActions>[0];
  const { total, byKind } = countActions(history);
  assert.deepEqual(byKind, { 'workflow started': 1, 'local activities': 2, 'activity attempt': 2, 'search-attribute upsert': 1 });
  assert.equal(total, 6);
});
