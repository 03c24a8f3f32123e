// Secrets of notification targets come from the worker's environment, read
// by name at delivery time. A missing one is the operator's to fix, not a
// network hiccup: the delivery fails at once, and says which variable.
import { ApplicationFailure } from '@temporalio/common';

export function fromWorkerEnv(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw ApplicationFailure.create({
      type: 'SAFEROLL_E_NOTIFICATION',
      nonRetryable: true,
      message: `environment variable ${name} (${what}) is not set on the worker: set it where \`saferoll worker\` runs`,
    });
  }
  return value;
}
