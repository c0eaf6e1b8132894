import { eventually } from './eventually.js';
import type { GatewayProcess } from './gateway-process.js';

/** The gateway's access log line for a request path, once written (after the response). */
export function accessLogLine(gateway: GatewayProcess, path: string, timeoutMs?: number): Promise<string> {
  return eventually(() => gateway.accessLog.find((line) => line.includes(` ${path} HTTP/`)), timeoutMs);
}
