export type { LoggedStep, LoggedStepState, SagaLogState } from './log.js';
export { SAGA_DEFAULTS, type SagaOptions, type SagaStep, type SagaStepContext } from './options.js';
export type { SagaEvent, SagaReport, SagaStatus, SagaStepReport, SagaStepStatus, SagaTiming } from './report.js';
export { Saga, type SagaExecuteOptions, saga } from './saga.js';
