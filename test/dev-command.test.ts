// `captcha-dlq dev`'s solve policy: local failures show up at once (30 s poll deadline), resubmits on request, and what
// the environment sets explicitly wins. Pure: no server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { devSolveEnv } from '../src/cli/commands/stack';
import { loadConfig } from '../src/config';

test('dev: a 30 s poll deadline and the product resubmits unless asked; the environment wins', () => {
  const plain = loadConfig(devSolveEnv({ pollDeadline: 30_000 }, {}));
  assert.equal(plain.solvePolicy.poll.deadlineMs, 30_000);
  assert.equal(plain.solvePolicy.maxResubmits, loadConfig({}).solvePolicy.maxResubmits);

  const failing = loadConfig(devSolveEnv({ pollDeadline: 10_000, maxResubmits: 0 }, {}));
  assert.equal(failing.solvePolicy.poll.deadlineMs, 10_000);
  assert.equal(failing.solvePolicy.maxResubmits, 0);

  const explicit = loadConfig(devSolveEnv({ pollDeadline: 30_000 }, { SOLVE_POLL_DEADLINE_MS: '60000' }));
  assert.equal(explicit.solvePolicy.poll.deadlineMs, 60_000);
});
