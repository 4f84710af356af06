// The DLQ's settings: defaults, how a run resolves them from its input and what the front sends it, and what a front
// hands its shards. Pure.
import type { DlqSettings } from '../messages';
import type { SolvePolicyOverrides } from '../../src/domain/types';
import { STATE_SIZE_MAX } from './limits';

export const DLQ_DEFAULTS = Object.freeze({
  retryCap: 3,
  retryConcurrency: 10,
  retryRatePerSecond: 5,
  softLimit: 10_000,
  oldestAgeAlertMs: 24 * 3_600_000,
  maxMessagesPerRun: 2_000,
  shardCount: 1,
  snapshotIntervalMs: 1_000,
  retryStaleAfterMs: 30 * 60_000,
  stateSizeAlertChars: 1_000_000,
  statsPublishIntervalMs: 1_000,
});

/** Settings of one run, every field resolved. */
export interface Settings {
  retryCap: number;
  retryConcurrency: number;
  retryRatePerSecond: number;
  softLimit: number;
  oldestAgeAlertMs: number;
  maxMessagesPerRun: number;
  shardCount: number;
  snapshotIntervalMs: number;
  retryStaleAfterMs: number;
  stateSizeAlertChars: number;
  statsPublishIntervalMs: number;
  indexSitekeys: boolean;
  solvePolicy?: SolvePolicyOverrides;
  taskQueue: string;
}

/**
 * The input's settings, overridden by those adopted from the front; an invalid value falls back to its default and is
 * passed to `onInvalid` (the workflow logs it).
 */
export function resolveSettings(
  input: DlqSettings,
  adopted: DlqSettings | undefined,
  ownTaskQueue: string,
  onInvalid: (name: keyof typeof DLQ_DEFAULTS, value: unknown) => void = () => undefined,
): Settings {
  const src: DlqSettings = { ...input, ...adopted };
  const pick = (name: keyof typeof DLQ_DEFAULTS, ok: (v: number) => boolean): number => {
    const v = src[name];
    if (v === undefined || v === null) return DLQ_DEFAULTS[name];
    if (typeof v === 'number' && ok(v)) return v;
    onInvalid(name, v);
    return DLQ_DEFAULTS[name];
  };
  const int = (min: number, max: number) => (v: number) => Number.isInteger(v) && v >= min && v <= max;
  return {
    retryCap: pick('retryCap', int(0, 1_000)),
    retryConcurrency: pick('retryConcurrency', int(1, 500)),
    retryRatePerSecond: pick('retryRatePerSecond', (v) => Number.isFinite(v) && v > 0 && v <= 1_000),
    softLimit: pick('softLimit', int(1, Number.MAX_SAFE_INTEGER)),
    oldestAgeAlertMs: pick('oldestAgeAlertMs', int(1, Number.MAX_SAFE_INTEGER)),
    maxMessagesPerRun: pick('maxMessagesPerRun', int(1, 9_000)),
    shardCount: pick('shardCount', int(1, 10_000)),
    snapshotIntervalMs: pick('snapshotIntervalMs', int(1, 3_600_000)),
    retryStaleAfterMs: pick('retryStaleAfterMs', int(1_000, 30 * 24 * 3_600_000)),
    stateSizeAlertChars: pick('stateSizeAlertChars', int(1_000, STATE_SIZE_MAX)),
    statsPublishIntervalMs: pick('statsPublishIntervalMs', int(100, 3_600_000)),
    indexSitekeys: src.indexSitekeys !== false,
    ...(src.solvePolicy && typeof src.solvePolicy === 'object' && { solvePolicy: src.solvePolicy }),
    taskQueue: typeof src.taskQueue === 'string' && src.taskQueue ? src.taskQueue : ownTaskQueue,
  };
}

/** What shards adopt from the front: the same policy, and the front's limits split between them. */
export function shardSettings(s: Settings): DlqSettings {
  const n = Math.max(1, s.shardCount);
  return {
    retryCap: s.retryCap,
    retryConcurrency: Math.max(1, Math.ceil(s.retryConcurrency / n)),
    retryRatePerSecond: s.retryRatePerSecond / n,
    maxMessagesPerRun: s.maxMessagesPerRun,
    shardCount: s.shardCount,
    snapshotIntervalMs: s.snapshotIntervalMs,
    retryStaleAfterMs: s.retryStaleAfterMs,
    stateSizeAlertChars: s.stateSizeAlertChars,
    taskQueue: s.taskQueue,
    ...(s.solvePolicy && { solvePolicy: s.solvePolicy }),
  };
}
