// The state a run carries into the next (plain JSON through continue-as-new): a fresh one, one revived from an older
// run, and the form it is carried in (entries as packed rows). Pure.
import type { DlqEntry, DlqRunState } from '../messages';
import { packEntries, unpackEntries } from './pack';

export function freshState(): DlqRunState {
  return {
    version: 1,
    run: 0,
    nextSeq: 1,
    entries: {},
    queue: [],
    inFlight: {},
    counters: { received: 0, duplicateReports: 0, recovered: 0, discarded: 0, purged: 0 },
    audit: [],
    requests: { ids: [], results: [] },
    removed: [],
    alerts: [],
    depthAlertArmed: true,
    shards: {},
    snapshot: { seq: 0, dirty: false },
  };
}

/** The carried state, with every field present (older runs may lack newer fields) and the entries unpacked. */
export function revive(s: DlqRunState): DlqRunState {
  const fresh = freshState();
  const { packed, ...rest } = s;
  const entries: Record<string, DlqEntry> = { ...s.entries };
  if (packed) for (const e of unpackEntries(packed)) entries[e.id] = e;
  return {
    ...fresh,
    ...rest,
    entries,
    counters: { ...fresh.counters, ...s.counters },
    requests: { ...fresh.requests, ...s.requests },
    snapshot: { ...fresh.snapshot, ...s.snapshot },
  };
}

/** The state for the next run: entries in compact rows. */
export function carriedState(state: DlqRunState): DlqRunState {
  return { ...state, entries: {}, packed: packEntries(Object.values(state.entries)) };
}

/** The key of a removed entry (`state.removed`): a report of the same failure must not bring it back. */
export function removedKey(id: string, failedAt: string): string {
  return `${id}\u0000${failedAt}`;
}
