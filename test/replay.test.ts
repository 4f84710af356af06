// Determinism: every history under test/fixtures/histories (recorded on earlier code by scripts/record-histories.ts)
// replays on the current workflow code. A change of workflow behaviour that is not behind `patched()` fails here.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { historyFromJson } from './helpers/histories';
import { bundleWorkflows } from './helpers/temporal';

const DIR = join(__dirname, 'fixtures', 'histories');

test('recorded histories (a sharded DLQ with a retry order and continue-as-new, a batch that continues as new) replay', async () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  assert.ok(files.some((f) => f.startsWith('dlq-')) && files.some((f) => f.startsWith('batch-')), `fixtures missing: ${files.join(', ')}`);
  const histories = files.map((f) => ({ workflowId: f, history: historyFromJson(readFileSync(join(DIR, f), 'utf8')) }));
  const workflowBundle = await bundleWorkflows();
  const replayed: string[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle }, histories)) {
    assert.equal(r.error, undefined, `${r.workflowId}: ${String(r.error)}`);
    replayed.push(r.workflowId);
  }
  assert.deepEqual(replayed.sort(), files);
});
