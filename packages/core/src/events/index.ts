export {
  type Disposer,
  Emitter,
  type ListenerErrorHandler,
  onListenerError,
  onType,
  type Subscribe,
} from './emitter.js';
