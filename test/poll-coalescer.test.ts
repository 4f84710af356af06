// Units without a server: the poll coalescer's batching, fallback and leaving (a scripted in-memory client), and the
// first-poll estimator's convergence to the median solve time (a seeded distribution).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { advisedFirstPollDelayMs, DEFAULT_SOLVE_POLICY, FIRST_POLL_DELAY_FACTORS } from '../src/domain/policies';
import { CaptchaResubmitError, ProviderError, ProviderTransientError } from '../src/providers/errors';
import { withProviderLimits } from '../src/providers/rate-limit';
import { MIN_ROUND_PERIOD_SHARE, MULTI_POLL_MAX_IDS, PollCoalescer, READY_PER_ROUND, withPollCoalescing } from '../src/providers/poll-coalescer';
import { SolveTimeEstimator, firstPollDelayMs } from '../src/providers/solve-times';
import type { MultiPollProvider, PollAnswer } from '../src/providers/types';
import { mulberry32, skewedDuration } from '../src/simulator/random';
import { SOLVE_TIMES_MS } from '../src/simulator/scenarios';

/** An in-memory client: task `r…` is ready, `x…` lost, others not ready; `failMany` multi-polls fail. */
function fakeProvider(options: { failMany?: number; failOne?: Set<string> } = {}) {
  const calls = { many: [] as string[][], one: [] as string[] };
  let failMany = options.failMany ?? 0;
  let release: (() => void) | undefined;
  const answerOf = (id: string): PollAnswer | ProviderError =>
    id.startsWith('r') ? { ready: true, token: `tok-${id}` } : id.startsWith('x') ? new CaptchaResubmitError(`captcha ${id} lost`, 'ERROR_CAPTCHA_UNSOLVABLE', id) : { ready: false };
  const provider: MultiPollProvider = {
    name: 'fake',
    submit: () => Promise.reject(new Error('not used')),
    async poll(id) {
      calls.one.push(id);
      if (options.failOne?.has(id)) throw new ProviderTransientError(`fake poll ${id}: HTTP 503`, 'HTTP_503', id);
      const answer = answerOf(id);
      if (answer instanceof ProviderError) throw answer;
      return answer;
    },
    async pollMany(ids, signal) {
      calls.many.push([...ids]);
      if (gate) await new Promise<void>((resolve) => (release = resolve));
      if (signal?.aborted) throw new ProviderTransientError('fake poll-many: aborted', 'ABORTED');
      if (failMany > 0) {
        failMany--;
        throw new ProviderTransientError('fake poll-many: HTTP 503', 'HTTP_503');
      }
      return ids.map(answerOf);
    },
    balance: () => Promise.resolve(0),
    report: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  let gate = false;
  return {
    provider,
    calls,
    /** holds multi-poll answers until `open()` */
    hold: () => {
      gate = true;
    },
    open: () => {
      gate = false;
      release?.();
    },
  };
}

describe('poll coalescer', () => {
  test('polls within a tick share requests of at most 100 ids, each waiter gets its own task’s answer', async () => {
    const fake = fakeProvider();
    const coalescer = new PollCoalescer(fake.provider, { tickMs: 5 });
    const ids = Array.from({ length: 250 }, (_, i) => (i % 5 === 0 ? `r${i}` : i % 7 === 0 ? `x${i}` : `n${i}`));
    const outcomes = await Promise.allSettled(ids.map((id) => coalescer.poll(id)));
    assert.deepEqual(fake.calls.many.map((c) => c.length), [100, 100, 50]);
    assert.equal(MULTI_POLL_MAX_IDS, 100);
    assert.deepEqual(fake.calls.one, [], 'no poll of its own');
    outcomes.forEach((outcome, i) => {
      const id = ids[i]!;
      if (id.startsWith('r')) assert.deepEqual(outcome, { status: 'fulfilled', value: { ready: true, token: `tok-${id}` } });
      else if (id.startsWith('x')) {
        assert.equal(outcome.status, 'rejected');
        assert.ok(outcome.reason instanceof CaptchaResubmitError && outcome.reason.providerTaskId === id);
      } else assert.deepEqual(outcome, { status: 'fulfilled', value: { ready: false } });
    });
    assert.deepEqual(coalescer.stats(), { batches: 3, failedBatches: 0, coalesced: 250, single: 0, rounds: 0 });
  });

  test('two waiters of one task share one slot', async () => {
    const fake = fakeProvider();
    const coalescer = new PollCoalescer(fake.provider, { tickMs: 5 });
    const [a, b, c] = await Promise.all([coalescer.poll('r1'), coalescer.poll('r1'), coalescer.poll('n2')]);
    assert.deepEqual(fake.calls.many, [['r1', 'n2']]);
    assert.deepEqual([a, b, c], [{ ready: true, token: 'tok-r1' }, { ready: true, token: 'tok-r1' }, { ready: false }]);
  });

  test('a failed multi-poll is answered task by task: answers, and each task’s own error', async () => {
    const fake = fakeProvider({ failMany: 1, failOne: new Set(['n3']) });
    const coalescer = new PollCoalescer(fake.provider, { tickMs: 5 });
    const outcomes = await Promise.allSettled(['r1', 'n2', 'n3', 'x4'].map((id) => coalescer.poll(id)));
    assert.equal(fake.calls.many.length, 1);
    assert.deepEqual([...fake.calls.one].sort(), ['n2', 'n3', 'r1', 'x4']);
    assert.deepEqual(outcomes[0], { status: 'fulfilled', value: { ready: true, token: 'tok-r1' } });
    assert.deepEqual(outcomes[1], { status: 'fulfilled', value: { ready: false } });
    const [, , third, fourth] = outcomes;
    assert.ok(third?.status === 'rejected' && third.reason instanceof ProviderTransientError && third.reason.code === 'HTTP_503');
    assert.ok(fourth?.status === 'rejected' && fourth.reason instanceof CaptchaResubmitError);
    // one failure is not enough to stop batching
    await coalescer.poll('r5');
    assert.deepEqual(fake.calls.many.at(-1), ['r5']);
  });

  test('repeated multi-poll failures switch to one poll per task for the cooldown', async () => {
    const fake = fakeProvider({ failMany: 2 });
    const coalescer = new PollCoalescer(fake.provider, { tickMs: 5, failuresBeforeCooldown: 2, cooldownMs: 60_000 });
    await coalescer.poll('r1');
    await coalescer.poll('r2');
    assert.equal(fake.calls.many.length, 2);
    const answer = await coalescer.poll('r3');
    assert.deepEqual(answer, { ready: true, token: 'tok-r3' });
    assert.equal(fake.calls.many.length, 2, 'no multi-poll during the cooldown');
    assert.deepEqual(fake.calls.one, ['r1', 'r2', 'r3']);
    assert.deepEqual(coalescer.stats(), { batches: 2, failedBatches: 2, coalesced: 0, single: 3, rounds: 0 });
  });

  test('a cancelled poll leaves: out of the queue before the tick, its share dropped once sent; the others are answered', async () => {
    const fake = fakeProvider();
    const coalescer = new PollCoalescer(fake.provider, { tickMs: 5 });
    const early = new AbortController();
    const queued = coalescer.poll('r1', early.signal);
    const stays = coalescer.poll('n2');
    early.abort(new Error('activity cancelled'));
    await assert.rejects(queued, /activity cancelled/);
    assert.deepEqual(await stays, { ready: false });
    assert.deepEqual(fake.calls.many, [['n2']], 'the cancelled task was never polled');

    fake.hold();
    const late = new AbortController();
    const inFlight = coalescer.poll('r3', late.signal);
    const other = coalescer.poll('r4');
    while (fake.calls.many.length < 2) await new Promise((resolve) => setImmediate(resolve));
    late.abort(new Error('heartbeat timeout'));
    await assert.rejects(inFlight, /heartbeat timeout/);
    fake.open();
    assert.deepEqual(await other, { ready: true, token: 'tok-r4' });
    assert.equal(coalescer.pending, 0);
  });

  test('a request whose every waiter left is aborted', async () => {
    const fake = fakeProvider();
    const coalescer = new PollCoalescer(fake.provider, { tickMs: 5 });
    fake.hold();
    const gone = new AbortController();
    const poll = coalescer.poll('r1', gone.signal);
    while (fake.calls.many.length < 1) await new Promise((resolve) => setImmediate(resolve));
    gone.abort(new Error('cancelled'));
    await assert.rejects(poll, /cancelled/);
    fake.open();
    // its abort shows as a failed request with nobody to answer: no poll of its own follows
    while (coalescer.stats().failedBatches < 1) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(fake.calls.one, []);
  });

  test('scheduled polls past their earliest time share one round before anyone is due; later ones wait', async () => {
    const fake = fakeProvider();
    const coalescer = new PollCoalescer(fake.provider, { tickMs: 600_000 });
    const now = Date.now();
    const window = { earliestAt: now, dueAt: now + 600_000, intervalMs: 10_000 };
    const later = new AbortController();
    const waiting = coalescer.pollScheduled('n9', { ...window, earliestAt: now + 300_000 }, later.signal);
    const answers = await Promise.all(['r1', 'n2', 'r3'].map((id) => coalescer.pollScheduled(id, window)));
    assert.deepEqual(answers, [{ ready: true, token: 'tok-r1' }, { ready: false }, { ready: true, token: 'tok-r3' }]);
    assert.deepEqual(fake.calls.many, [['r1', 'n2', 'r3']], 'one request, without the task not yet at its earliest time');
    assert.equal(coalescer.scheduled, 1);
    later.abort(new Error('cancelled'));
    await assert.rejects(waiting, /cancelled/);
    assert.equal(coalescer.scheduled, 0);
    assert.deepEqual(fake.calls.many.length, 1, 'the cancelled task left without a request');
    coalescer.close();
  });

  test('fewer tasks than a round is worth wait for their due time (a lone task polls as its policy plans)', async () => {
    const fake = fakeProvider();
    const coalescer = new PollCoalescer(fake.provider, { tickMs: 5 });
    const now = Date.now();
    const left = new AbortController();
    const pending = ['n1', 'n2'].map((id) => coalescer.pollScheduled(id, { earliestAt: now, dueAt: now + 600_000, intervalMs: 10_000 }, left.signal));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(fake.calls.many, [], 'two tasks are below the share that makes a round worth a request');
    left.abort(new Error('cancelled'));
    for (const p of pending) await assert.rejects(p, /cancelled/);
    // due now: polled at once, alone
    assert.deepEqual(await coalescer.pollScheduled('r3', { earliestAt: now, dueAt: now, intervalMs: 10_000 }), { ready: true, token: 'tok-r3' });
    assert.deepEqual(fake.calls.many, [['r3']]);
    coalescer.close();
  });

  test('rounds come sooner the more tokens they bring back: ready-per-round / rate, within [interval / 5, interval]', async () => {
    const period = async (ids: string[], pollableForMs = 10_000) => {
      const coalescer = new PollCoalescer(fakeProvider().provider);
      const now = Date.now();
      await Promise.all(ids.map((id) => coalescer.pollScheduled(id, { earliestAt: now - pollableForMs, dueAt: now + 600_000, intervalMs: 10_000 })));
      // the round settles its figures once its requests have answered
      while (coalescer.stats().rounds < 1) await new Promise((resolve) => setImmediate(resolve));
      coalescer.close();
      return coalescer.stats();
    };
    const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    // the first round's tokens are counted over the time its tasks were pollable (here one interval, 10 s)
    assert.equal((await period(ids('n', 5))).periodMs, 10_000, 'no token: rounds an interval apart');
    assert.equal((await period(ids('r', READY_PER_ROUND * 2))).periodMs, 5_000, 'twice the tokens a round should bring: half the interval');
    const busy = await period(ids('r', 150));
    assert.equal(busy.periodMs, 10_000 * MIN_ROUND_PERIOD_SHARE, 'never shorter than the floor');
    assert.equal(busy.rounds, 1);
    assert.equal(busy.batches, 2, 'a round of 150 tasks is two requests of at most 100 ids');
    // a first round that went as soon as a few tasks could share it: their tokens came within those few ms, so the
    // tasks that become pollable just after it are not held back a whole interval (before: period 10 s from 3 tokens)
    assert.equal((await period(ids('r', READY_PER_ROUND), 0)).periodMs, 10_000 * MIN_ROUND_PERIOD_SHARE, 'a quick first round: rounds at the floor');
  });

  test('a coalescing client passes the submit’s options (the callback URL) through', async () => {
    const fake = fakeProvider();
    const seen: unknown[] = [];
    const coalesced = withPollCoalescing({ ...fake.provider, submit: (_task, _signal, options) => (seen.push(options), Promise.resolve('1')) });
    await coalesced.submit({ type: 'image', body: 'aGk=' }, undefined, { callbackUrl: 'https://cb.example/callbacks/x' });
    assert.deepEqual(seen, [{ callbackUrl: 'https://cb.example/callbacks/x' }]);
    await coalesced.close();
  });

  test('a task rides in every shared round: the per-task poll spacing of the limiter does not hold it back', async () => {
    const fake = fakeProvider();
    // spacing of an hour per task: a task held back by it would miss the second round
    const limited = withProviderLimits(withPollCoalescing(fake.provider), { minPollIntervalMs: 3_600_000 });
    const round = () => {
      const now = Date.now();
      return Promise.all(['n1', 'n2', 'n3'].map((id) => limited.pollScheduled!(id, { earliestAt: now, dueAt: now + 3_600_000, intervalMs: 20 })));
    };
    await round();
    await round();
    assert.deepEqual(fake.calls.many, [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3']]);
    assert.equal(limited.limiterStats().pollsDelayed, 0);
    await limited.close();
  });

  test('close rejects the waiting polls with a transient error and refuses new ones', async () => {
    const fake = fakeProvider();
    const coalescer = new PollCoalescer(fake.provider, { tickMs: 1_000 });
    const waiting = coalescer.poll('n1');
    coalescer.close();
    await assert.rejects(waiting, (err: unknown) => err instanceof ProviderTransientError && err.code === 'CLIENT_CLOSED');
    await assert.rejects(coalescer.poll('n2'), (err: unknown) => err instanceof ProviderTransientError && err.code === 'CLIENT_CLOSED');
    assert.deepEqual(fake.calls.many, []);
  });
});

describe('first poll timing', () => {
  test('the advised first delay follows the captcha type and scales with the policy', () => {
    const poll = DEFAULT_SOLVE_POLICY.poll;
    assert.equal(advisedFirstPollDelayMs(poll, 'image'), 5_000);
    assert.equal(advisedFirstPollDelayMs(poll, 'recaptcha-v2'), 15_000);
    assert.equal(advisedFirstPollDelayMs(poll), poll.firstDelayMs);
    // a test's scaled policy (test/helpers/stack.ts FAST_ENV) scales every type alike
    const scaled = { ...poll, firstDelayMs: 20 };
    assert.equal(advisedFirstPollDelayMs(scaled, 'recaptcha-v2'), 20 * FIRST_POLL_DELAY_FACTORS['recaptcha-v2']);
  });

  test('never later than the deadline leaves room for one more poll', () => {
    assert.equal(firstPollDelayMs(15_000, { intervalMs: 5_000, deadlineMs: 120_000 }), 15_000);
    assert.equal(firstPollDelayMs(15_000, { intervalMs: 5_000, deadlineMs: 12_000 }), 7_000);
    assert.equal(firstPollDelayMs(15_000, { intervalMs: 5_000, deadlineMs: 3_000 }), 0);
  });

  test('the estimate moves from the advised delay to the observed median solve time', () => {
    // reCAPTCHA v2 solves of 15–60 s, median 30 s (the simulator's distribution); advised first poll 15 s
    const rng = mulberry32(7);
    const solveMs = () => skewedDuration(rng, SOLVE_TIMES_MS['recaptcha-v2']);
    const sorted = Array.from({ length: 20_000 }, solveMs).sort((a, b) => a - b);
    const median = sorted[sorted.length / 2]!;
    const estimator = new SolveTimeEstimator();
    const advised = 15_000;
    assert.equal(estimator.firstDelayMs('2captcha', 'recaptcha-v2', advised), advised);
    const tail: number[] = [];
    for (let i = 0; i < 1_500; i++) {
      const planned = estimator.firstDelayMs('2captcha', 'recaptcha-v2', advised);
      const t = solveMs();
      // the first poll answers `planned` ms after the submit (plus a little request time)
      estimator.observe('2captcha', 'recaptcha-v2', advised, planned, planned + 50, t <= planned);
      if (i >= 1_000) tail.push(planned);
    }
    const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
    assert.ok(Math.abs(mean - median) / median < 0.1, `estimate ${Math.round(mean)} ms vs median ${Math.round(median)} ms`);
    // the share of first polls that find their task ready is about a half
    const readyShare = sorted.filter((t) => t <= mean).length / sorted.length;
    assert.ok(readyShare > 0.4 && readyShare < 0.6, `ready at the first poll: ${readyShare}`);
    // other providers and types keep their own estimate
    assert.equal(estimator.firstDelayMs('captchaai', 'recaptcha-v2', advised), advised);
    assert.equal(estimator.firstDelayMs('2captcha', 'image', 5_000), 5_000);
  });

  test('the first answers move a far-off advice most of the way (large first steps, shrinking)', () => {
    // reCAPTCHA v2 ×0.2 (3–12 s, the bench's peer section) against the unscaled advice of 15 s
    const rng = mulberry32(11);
    const solveMs = () => skewedDuration(rng, SOLVE_TIMES_MS['recaptcha-v2']) * 0.2;
    const sorted = Array.from({ length: 20_000 }, solveMs).sort((a, b) => a - b);
    const median = sorted[sorted.length / 2]!;
    const after = (estimator: SolveTimeEstimator, n: number) => {
      for (let i = 0; i < n; i++) {
        const planned = estimator.firstDelayMs('2captcha', 'recaptcha-v2', 15_000);
        estimator.observe('2captcha', 'recaptcha-v2', 15_000, planned, planned + 50, solveMs() <= planned);
      }
      return estimator.firstDelayMs('2captcha', 'recaptcha-v2', 15_000);
    };
    const fast = after(new SolveTimeEstimator(), 8);
    assert.ok(Math.abs(fast - median) / median < 0.35, `after 8 answers ${fast} ms vs median ${Math.round(median)} ms`);
    const slow = after(new SolveTimeEstimator({ initialGain: 0.1 }), 8);
    assert.ok(slow > 1.5 * median, `a constant gain of 0.1 is still at ${slow} ms`);
  });

  test('answers that say nothing about the planned time are ignored; the estimate stays within bounds', () => {
    const estimator = new SolveTimeEstimator();
    // ready, but long after the planned poll (a late activity): the task may have been ready at any time
    estimator.observe('p', 'image', 5_000, 5_000, 9_000, true);
    // not ready, but polled before the planned time (the deadline moved the poll forward)
    estimator.observe('p', 'image', 5_000, 5_000, 3_000, false);
    assert.deepEqual(estimator.snapshot(), {});
    for (let i = 0; i < 500; i++) estimator.observe('p', 'image', 5_000, 5_000, 5_000, true);
    assert.equal(estimator.firstDelayMs('p', 'image', 5_000), 1_250, 'no lower than advised / 4');
    for (let i = 0; i < 2_000; i++) estimator.observe('p', 'image', 5_000, 20_000, 20_000, false);
    assert.equal(estimator.firstDelayMs('p', 'image', 5_000), 20_000, 'no higher than advised × 4');
  });
});
