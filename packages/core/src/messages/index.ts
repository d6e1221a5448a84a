export type { AttemptState } from './counter.js';
export {
  type DeadLetterInfo,
  type DeadLetterReason,
  MESSAGE_PROCESSOR_DEFAULTS,
  type MessageContext,
  type MessageProcessorOptions,
} from './options.js';
export {
  MessageProcessor,
  type MessageProcessorEvent,
  type MessageProcessorStats,
  messageProcessor,
  type ProcessOutcome,
  type ProcessResult,
} from './processor.js';
