// A local alert webhook: collects the JSON bodies the worker posts to ALERT_WEBHOOK_URL.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AlertHook {
  /** the bodies received, in order */
  alerts: Record<string, unknown>[];
  /** the URL to give the worker as ALERT_WEBHOOK_URL */
  url: string;
  close(): void;
}

export async function startAlertHook(): Promise<AlertHook> {
  const alerts: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      alerts.push(JSON.parse(body) as Record<string, unknown>);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { alerts, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, close: () => void server.close() };
}
