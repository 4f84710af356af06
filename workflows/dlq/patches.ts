// The `patched()` ids of the DLQ. A run started before a patch keeps the old behaviour until it continues as new;
// recorded histories (test/replay.test.ts) prove it. Never rename one: running workflows carry these markers.

/** shards push their snapshot in their own slot (runs started before it keep pushing first and waiting after) */
export const SNAPSHOT_SLOTS_PATCH = 'dlq-snapshot-slots';
// issue 12's guards
/** the front takes snapshots only from its own shards, checked field by field */
export const OWN_SHARDS_PATCH = 'dlq-snapshots-from-own-shards';
/** orders, reports and snapshots are bounded in size */
export const BOUNDED_PATCH = 'dlq-bounded-messages';
/** signals of unknown names are counted and logged */
export const UNKNOWN_SIGNALS_PATCH = 'dlq-unknown-signals';
/** alerts raised are delivered before the run continues as new */
export const AWAIT_ALERTS_PATCH = 'dlq-await-alerts-before-continue-as-new';
// issue 15
/** the front publishes its stats in its memo (DLQ_STATS_MEMO_KEY), read by `describe()` without waiting on the worker */
export const STATS_MEMO_PATCH = 'dlq-stats-memo';
// issue 17
/**
 * retries carry their order's request id and count their outcome into its audit record; shards send their orders'
 * tallies in their snapshots; the front records an order before it forwards it (the shards' tallies have a record)
 */
export const ORDER_OUTCOMES_PATCH = 'dlq-order-outcomes';
// issue 16
/** a retry order sent by signal is checked against its budget at worst (every resubmit paid), as the validator does */
export const WORST_CASE_BUDGET_PATCH = 'dlq-retry-budget-worst-case';
