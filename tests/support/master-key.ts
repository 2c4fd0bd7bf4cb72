import { generateMasterKey } from "../../src/lib/master-key.js";

/**
 * One master key per test file, shared by the in-process server and every process the file starts, as instances
 * sharing a database must share it (each can then read the secrets the others sealed).
 */
export const TEST_MASTER_KEY = generateMasterKey();
