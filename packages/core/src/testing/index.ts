export { type LimitsUnderTest, runLimitsContract } from './limits-contract.js';
export { createManualClock, type ManualClock } from './manual-clock.js';
export { createMemoryStores } from './memory-store.js';
export { makeSession, runStoreContract, type StoreUnderTest } from './store-contract.js';
