// The batch's page reader: a large batch's tasks stay in their file and reach the workflow a page at a time.
import { ApplicationFailure } from '@temporalio/activity';
import { readTaskFile, type KeyedTask, type TaskFile } from '../src/tasks/files';
import type { TaskSource } from '../workflows/messages';

export interface ReadPageInput {
  source: Extract<TaskSource, { kind: 'file' }>;
  offset: number;
  limit: number;
}
export interface TaskPage {
  tasks: KeyedTask[];
  done: boolean;
}

export function createBatchActivities() {
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

  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
