// The batch's page reader: a large batch's tasks stay in their file and reach the workflow a page at a time.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { DeadLetterReport } from '../src/domain/types';
import { signalDeadLetter } from './dlq-report';
import { readTaskFile, type KeyedTask, type TaskFile } from '../src/tasks/files';
import type { DlqSettings, TaskSource } from '../workflows/messages';

export interface ReadPageInput {
  source: Extract<TaskSource, { kind: 'file' }>;
  offset: number;
  limit: number;
}
export interface TaskPage {
  tasks: KeyedTask[];
  done: boolean;
}

export interface ReportManyInput {
  dlqWorkflowId: string;
  reports: Omit<DeadLetterReport, 'provider'>[];
}

export function createBatchActivities(client: Client | undefined, providerName: string, dlqSettings: DlqSettings) {
  // the last file read, kept parsed: a batch reads its file page after page
  let cached: Promise<TaskFile> | undefined;
  let cachedKey = '';

  return {
    async readTaskPage({ source, offset, limit }: ReadPageInput): Promise<TaskPage> {
      const key = `${source.path}\0${source.sha256}`;
      if (key !== cachedKey || !cached) {
        cachedKey = key;
        cached = readTaskFile(source.path, source.format);
        cached.catch(() => {
          cachedKey = '';
        });
      }
      let file: TaskFile;
      try {
        file = await cached;
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`batch source ${source.path}: ${(err as Error).message}`, 'BatchSourceError');
      }
      if (file.sha256 !== source.sha256) {
        throw ApplicationFailure.nonRetryable(
          `batch source ${source.path} changed since the batch started (sha256 ${file.sha256.slice(0, 12)}… ≠ ${source.sha256.slice(0, 12)}…)`,
          'BatchSourceError',
        );
      }
      const tasks = file.tasks.slice(offset, offset + limit);
      return { tasks, done: offset + tasks.length >= file.tasks.length };
    },

    /** Records many unsubmitted tasks at once (an open circuit); idempotent per entry id, so a retry is harmless. */
    async reportDeadLetters({ dlqWorkflowId, reports }: ReportManyInput): Promise<void> {
      if (!client) throw ApplicationFailure.nonRetryable('no Temporal client given to the activities', 'internal');
      for (const report of reports) {
        await signalDeadLetter(client, dlqWorkflowId, dlqSettings, { ...report, provider: providerName });
        Context.current().heartbeat();
      }
    },
  };
}
