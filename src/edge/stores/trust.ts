/**
 * Who may own the state folder and its files besides root and the running user: the service account the package
 * creates (`consystence-edge`, or CONSYSTENCE_EDGE_SERVICE_USER), so a root CLI works in the folder the service
 * owns and hands the files it creates to that account. Anyone else owning them makes storage refuse.
 */
import { uidOfUser, type TrustPolicy } from '../../storage/index.js';

export const DEFAULT_SERVICE_USER = 'consystence-edge';

export function stateTrustPolicy(env: NodeJS.ProcessEnv = process.env): TrustPolicy {
  const uid = uidOfUser(env.CONSYSTENCE_EDGE_SERVICE_USER || DEFAULT_SERVICE_USER);
  // The state folder holds the device's secrets: no other user may write it, sticky bit or not.
  return { extraOwners: uid === undefined ? [] : [uid], privateFolder: true };
}
