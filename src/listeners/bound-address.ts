import type { Server } from 'node:net';
import { MeshgateError } from '../errors.js';

/** The address a listening server is bound to (port 0 resolved), frozen: what address() reports. */
export function boundAddress(server: Server): { readonly address: string; readonly port: number } {
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new MeshgateError('MG_ERR_LISTEN', 'listener has no TCP address');
  return Object.freeze({ address: bound.address, port: bound.port });
}
