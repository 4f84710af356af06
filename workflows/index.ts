// The workflow bundle's entry: every workflow the worker runs.
export { solveCaptchaWorkflow } from './solve';
export { captchaBatchWorkflow } from './batch';
export { dlqDrainWorkflow } from './drain';
export { deadLetterQueueWorkflow } from './dlq/workflow';
export { tokenReportWorkflow, captchaAccountWorkflow } from './account';
