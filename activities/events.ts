// What the activities tell the worker about (its metrics, src/metrics.ts), and the one way they say it.
import type { FailureClass } from '../src/domain/types';

/** Called synchronously; a throwing hook is ignored. */
export interface ActivityEvents {
  /** a poll returned the token */
  solved?(event: { provider: string }): void;
  /** a submit or poll attempt failed (each attempt once; retries of the same task count again) */
  failed?(event: { provider: string; stage: 'submit' | 'poll'; failureClass: FailureClass; code: string }): void;
  /**
   * a submit was paid after earlier attempts of the same activity sent one and never learnt its outcome (their worker
   * died, or the exchange broke after sending): `count` provider tasks may have been paid for nothing
   */
  possibleDuplicateSubmit?(event: { provider: string; count: number }): void;
  /** a submit went past a provider of its route (circuit open, or it refused) to another one */
  providerSwitch?(event: { from: string; to: string; reason: string }): void;
  /** a submit was paid: `micros` micro-USD by the worker's price table */
  spent?(event: { provider: string; type: string; micros: number }): void;
  /** a final failure was recorded in the DLQ */
  deadLettered?(event: { provider: string; failureClass: FailureClass; code: string }): void;
}

export type Emit = <K extends keyof ActivityEvents>(kind: K, event: Parameters<NonNullable<ActivityEvents[K]>>[0]) => void;

/** Calls the hook of `kind`, if any; metrics never fail an activity. */
export function emitterOf(events: ActivityEvents = {}): Emit {
  return (kind, event) => {
    try {
      (events[kind] as ((e: typeof event) => void) | undefined)?.(event);
    } catch {
      // a throwing hook is ignored
    }
  };
}
