export { LockHeldError, tryLock, waitForLock, type ReleaseLock } from './process-lock.js';
