// Workflow histories as JSON files, for replay tests (test/replay.test.ts, scripts/record-histories.ts).
// Not `historyToJSON` / `historyFromJSON` of @temporalio/common: in this install they throw "type must be a Type"
// (@temporalio/common resolves protobufjs 8 for its JSON codec, while @temporalio/proto's types are built on protobufjs
// 7). The History message's own toObject/fromObject round-trip exactly (int64 and enums as strings, bytes as base64).
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
const HistoryMessage = temporal.api.history.v1.History;

/** `workflowId`: the id the workflow ran under, which its code may read (a DLQ checks its shards' ids against its own). */
export function historyToJson(history: History, workflowId?: string): string {
  const message = HistoryMessage.fromObject(history);
  return JSON.stringify({ ...(workflowId !== undefined && { workflowId }), ...HistoryMessage.toObject(message, { longs: String, enums: String, bytes: String }) });
}

/** A recorded history and the workflow id it ran under (absent from files recorded before it was kept). */
export function recordedHistoryFromJson(text: string): { workflowId?: string; history: temporal.api.history.v1.History } {
  const { workflowId, ...rest } = JSON.parse(text) as { workflowId?: unknown } & Record<string, unknown>;
  return { ...(typeof workflowId === 'string' && { workflowId }), history: HistoryMessage.fromObject(rest) };
}
