export type { TransactionClient, TransactionPhase } from './options.js';
export { isTransactionError, TransactionError, transactional } from './transaction.js';
