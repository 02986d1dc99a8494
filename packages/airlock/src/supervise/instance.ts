import { randomBytes } from 'node:crypto';

/**
 * This airlock's id: every process it starts carries AIRLOCK_TAG=<INSTANCE>.<uuid>, and
 * its cgroups are named airlock-<INSTANCE>, so whatever it left behind can be found,
 * whoever its parent is now.
 */
export const INSTANCE = randomBytes(8).toString('hex');
