// The balance check over every configured provider: each provider's balance judged against the low-balance threshold,
// and one alert per provider per crossing (raised when it goes below, re-armed when it is back at or above). Pure: the
// account workflow keeps the alert state and calls this with what the worker read.

/** What the worker read from one provider: its balance, or why it could not (one redacted sentence). */
export interface BalanceRead {
  provider: string;
  balance?: number;
  threads?: { threads: number; workingThreads: number; freeThreads: number };
  error?: string;
}

export interface ProviderBalance extends BalanceRead {
  /** below the threshold (false when unread or no threshold) */
  low: boolean;
  /** this check crossed below the threshold: an alert goes out for this provider */
  alerted: boolean;
}

/**
 * Judges each read against `lowBalance`; `alertedBefore` (provider → below since its last alert) is updated in place.
 * A provider that could not be read keeps its alert state: an outage neither raises nor re-arms its alert.
 */
export function judgeBalances(reads: readonly BalanceRead[], lowBalance: number | undefined, alertedBefore: Record<string, boolean>): ProviderBalance[] {
  return reads.map((r) => {
    if (r.balance === undefined) return { ...r, low: false, alerted: false };
    const low = lowBalance !== undefined && r.balance < lowBalance;
    const alerted = low && !alertedBefore[r.provider];
    alertedBefore[r.provider] = low;
    return { ...r, low, alerted };
  });
}
