// Determinism: every history under test/fixtures/histories (recorded on earlier code by scripts/record-histories.ts)
// replays on the current workflow code. A change of workflow behaviour that is not behind `patched()` fails here.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { recordedHistoryFromJson } from './helpers/histories';
import { bundleWorkflows } from './helpers/temporal';

const DIR = join(__dirname, 'fixtures', 'histories');

test('recorded histories (a sharded DLQ with a retry order and continue-as-new, a batch that continues as new) replay', async () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  assert.ok(files.some((f) => f.startsWith('dlq-')) && files.some((f) => f.startsWith('batch-')), `fixtures missing: ${files.join(', ')}`);
  // each under the id it ran under (workflow code may read it: a DLQ front checks its shards' ids against its own),
  // one at a time (the runs of one id share it); files recorded before the id was kept run under their name
  const workflowBundle = await bundleWorkflows();
  const replayed: string[] = [];
  for (const file of files) {
    const { workflowId, history } = recordedHistoryFromJson(readFileSync(join(DIR, file), 'utf8'));
    const error = await Worker.runReplayHistory({ workflowBundle }, history, workflowId ?? file).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.equal(error, undefined, `${file}: ${String(error)}`);
    replayed.push(file);
  }
  assert.deepEqual(replayed.sort(), files);
});

test('the recorded histories hold both forms of a solve\'s submit: an activity task (before v2) and a local activity (v2-*)', () => {
  const submits = (file: string) => {
    const { events } = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { events: { eventType: string; activityTaskScheduledEventAttributes?: { activityType?: { name?: string } }; markerRecordedEventAttributes?: { markerName?: string } }[] };
    return {
      events: events.length,
      activityTasks: events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'submitCaptcha').length,
      localMarkers: events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
    };
  };
  assert.deepEqual(submits('batch-can-child-1.json'), { events: 18, activityTasks: 1, localMarkers: 0 });
  assert.deepEqual(submits('v2-batch-can-child-1.json'), { events: 15, activityTasks: 0, localMarkers: 1 });
});
