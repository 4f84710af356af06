// The dead-letter queue's public face: the workflow, and the pure pieces that the client, the activities and the tests
// share with it (routing, packed rows, defaults, request parsing).
export { DLQ_DEFAULTS, deadLetterQueueWorkflow, parseList, parseOrder } from './workflow';
export { packEntries, unpackEntries } from './pack';
export { dlqShardOf, dlqShardWorkflowId, dlqWorkflowIdFor, fnv1a32 } from './routing';
