// Where a DLQ entry lives. Pure and workflow-safe (no imports): the report activity, the DLQ workflows and the client
// library compute the same answer from the same three inputs.
//
// Entries are spread over `shardCount` workflows by a stable hash of the entry id (FNV-1a, 32 bit, over UTF-16 code
// units). Shard 0 is the front itself (`captcha-dlq`); shard i > 0 is `captcha-dlq/shard-<i>`. With one shard (the
// default) every entry goes to the front. Changing `shardCount` later only moves where new entries go: entries already
// held stay where they are and are still found (the front forwards orders to every shard it knows).

/** FNV-1a 32-bit hash of a string's UTF-16 code units. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The shard index (0 … shardCount − 1) of an entry. */
export function dlqShardOf(shardCount: number, entryId: string): number {
  const n = Math.floor(shardCount);
  return n > 1 ? fnv1a32(entryId) % n : 0;
}

/** The workflow id of a shard: the front for shard 0. */
export function dlqShardWorkflowId(frontId: string, shard: number): string {
  return shard === 0 ? frontId : `${frontId}/shard-${shard}`;
}

/** The workflow id that holds (or will hold) an entry. */
export function dlqWorkflowIdFor(frontId: string, shardCount: number, entryId: string): string {
  return dlqShardWorkflowId(frontId, dlqShardOf(shardCount, entryId));
}
