// Workflow histories as JSON files, for replay tests (test/replay.test.ts, scripts/record-histories.ts).
// Not `historyToJSON` / `historyFromJSON` of @temporalio/common: in this install they throw "type must be a Type"
// (@temporalio/common resolves protobufjs 8 for its JSON codec, while @temporalio/proto's types are built on protobufjs
// 7). The History message's own toObject/fromObject round-trip exactly (int64 and enums as strings, bytes as base64).
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
const HistoryMessage = temporal.api.history.v1.History;

export function historyToJson(history: History): string {
  const message = HistoryMessage.fromObject(history);
  return JSON.stringify(HistoryMessage.toObject(message, { longs: String, enums: String, bytes: String }));
}

export function historyFromJson(text: string): temporal.api.history.v1.History {
  return HistoryMessage.fromObject(JSON.parse(text) as Record<string, unknown>);
}
