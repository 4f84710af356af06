// Refuse early what the provider cannot do: tasks are checked against the configured provider's capability table
// (src/providers/capabilities.ts) before a solve or a batch starts. The client learns the worker's provider from its own
// CAPTCHA_PROVIDER, which a deployment shares between clients and workers; a worker whose provider differs (or changed
// under a running batch) still refuses such a task at submit and dead-letters it as permanent UNSUPPORTED_TYPE.
import { providersSupporting, supportsKind, type ProviderName } from '../providers/capabilities';
import type { CaptchaTask } from '../domain/types';
import { TaskValidationError } from './schema';

/** The sentence naming a kind the provider does not solve and those that do. */
export function unsupportedTypeMessage(provider: ProviderName, type: CaptchaTask['type']): string {
  const others = providersSupporting(type);
  return `type "${type}" is not solved by ${provider} (CAPTCHA_PROVIDER); ${others.length ? `providers that solve it: ${others.join(', ')}` : 'no provider solves it'}`;
}

/**
 * Throws a TaskValidationError naming every task (its line in a file, else its item index) whose type the provider does
 * not solve. The first task of each type carries the whole sentence; the others name the type only.
 */
export function checkProviderSupports(
  provider: ProviderName,
  tasks: readonly Pick<CaptchaTask, 'type'>[],
  options: { lines?: readonly (number | undefined)[]; where?: string } = {},
): void {
  const problems: TaskValidationError['problems'] = [];
  const told = new Set<string>();
  tasks.forEach((task, index) => {
    if (supportsKind(provider, task.type)) return;
    const line = options.lines?.[index];
    const message = told.has(task.type) ? `"${task.type}" is not solved by ${provider}` : unsupportedTypeMessage(provider, task.type);
    told.add(task.type);
    problems.push({ ...(line !== undefined ? { line } : tasks.length > 1 && { index }), field: 'type', message });
  });
  if (problems.length) throw new TaskValidationError(problems, options.where ?? 'tasks');
}
