export {
  type RollbackReason,
  TRANSACTIONS_DEFAULTS,
  type TransactionClient,
  type TransactionEvent,
  type TransactionPhase,
  type TransactionsOptions,
} from './options.js';
export {
  isTransactionError,
  TransactionError,
  type TransactionRunOptions,
  Transactions,
  transactional,
  transactions,
} from './transaction.js';
