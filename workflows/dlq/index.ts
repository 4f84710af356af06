// The dead-letter queue's public face: the workflow, and the pure pieces that the client, the activities and the tests
// share with it (packed rows, defaults, request parsing).
export { deadLetterQueueWorkflow } from './workflow';
export { DLQ_DEFAULTS } from './settings';
export { parseList, parseOrder } from './requests';
export { packEntries, unpackEntries } from './pack';
