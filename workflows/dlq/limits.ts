// Every bound the DLQ keeps: what it stores, what it accepts, what it answers. Plain numbers, no imports but messages.
import { DLQ_REQUEST_CHARS_MAX } from '../messages';

/** characters of an entry's message, and of an operator's reason or name */
export const MESSAGE_LIMIT = 500;
export const TEXT_LIMIT = 500;
/** audit records kept per workflow */
export const AUDIT_KEPT = { front: 200, shard: 50 };
/** request ids remembered for idempotence, and results answered again to a repeated request */
export const REQUEST_IDS_KEPT = 1_000;
export const RESULTS_KEPT = 50;
/** ids of a kept result's sample */
export const RESULT_SAMPLE_KEPT = 5;
/** removed entries remembered, so that a repeated report does not bring one back */
export const REMOVED_KEPT = 1_000;
export const ALERTS_KEPT = 50;
/** entries per `list` page: at most, and when not asked */
export const LIST_MAX = 500;
export const LIST_DEFAULT = 100;
/** ids in an order's result sample */
export const SAMPLE_SIZE = 20;
/** values per filter field without BOUNDED_PATCH */
export const FILTER_VALUES_MAX = 10_000;
/** with BOUNDED_PATCH: values per filter field, characters of one order / report / snapshot (JSON) */
export const FILTER_VALUES_BOUNDED = 1_000;
export const REQUEST_CHARS_MAX = DLQ_REQUEST_CHARS_MAX;
export const REPORT_CHARS_MAX = 64_000;
export const SNAPSHOT_CHARS_MAX = 64_000;
/** keys per count map of a snapshot; characters of a quoted piece of input in a rejection or log line */
export const SNAPSHOT_MAP_KEYS_MAX = 500;
export const QUOTE_MAX = 50;
/** a rejection or log message built from input is cut here */
export const PROBLEMS_MAX = 300;
/** keys per count map (sitekeys, batches) in this workflow's own counts */
export const SNAPSHOT_KEYS_MAX = 50;
/**
 * Above this the run does not continue as new (the payload limit is 2 MB): it keeps running on a growing history and
 * alerts, until entries leave or the history limit ends it. Never reached with a sound `shardCount`.
 */
export const STATE_SIZE_MAX = 1_800_000;
/** retry children looked up per sweep */
export const LOOKUP_BATCH = 100;
/**
 * Snapshots the front takes per second from all its shards together, at most. One workflow execution takes a few
 * signals per second comfortably: each one is a write under the execution's lock, and while a workflow task is in
 * flight they pile up in its buffer (the server fails the task when the buffer is full, and callers meet "Workflow is
 * busy"). A front that every shard signalled once per `snapshotIntervalMs` (100,000 entries on 167 shards: up to 167
 * signals/s) fell behind, lost its tasks, and then took thousands of signals in one activation. So each shard pushes in
 * its own slot of a cycle of shardCount / FRONT_SNAPSHOTS_PER_SECOND seconds (never shorter than `snapshotIntervalMs`):
 * 17 shards push every 3.4 s each, 50 shards every 10 s, 167 shards every 33 s, and the front takes ≤ 5 snapshots/s
 * whatever the shard count. Stats are exact at most one cycle after the last failure lands.
 */
export const FRONT_SNAPSHOTS_PER_SECOND = 5;
