import { createMemoryStores } from '../src/testing/memory-store.js';
import { runStoreContract } from '../src/testing/store-contract.js';

runStoreContract('memory', async () => createMemoryStores());
