// The activities of the trivial shape (bench/trivial-workflows.ts): they return at once.
export const trivialActivities = {
  async noopSubmit(): Promise<void> {},
  async noopPoll(): Promise<void> {},
};

export type TrivialActivities = typeof trivialActivities;
