// Legacy family (2captcha, CaptchaAI): a pingback address must be registered before a submit may name it
// (`res.php?action=add_pingback&addr=`). Done once per deployment: at worker start when absent, or by the CLI.
import { createLegacyProvider, type LegacyProvider } from '../providers/legacy-client';
import type { ProviderName } from '../providers';

export const isLegacyProvider = (name: ProviderName): name is 'captchaai' | '2captcha' => name === 'captchaai' || name === '2captcha';

/** A client for the pingback actions alone (the worker's provider is wrapped by limits and metrics). */
export function pingbackClient(provider: { name: ProviderName; apiKey: string; baseUrl: string; requestTimeoutMs?: number }): LegacyProvider | undefined {
  if (!isLegacyProvider(provider.name)) return undefined;
  return createLegacyProvider({ name: provider.name, apiKey: provider.apiKey, baseUrl: provider.baseUrl, connections: 1, ...(provider.requestTimeoutMs && { requestTimeoutMs: provider.requestTimeoutMs }) });
}

/** Registers `publicUrl` unless an address covering it is registered already; true when it added one. */
export async function ensurePingback(client: LegacyProvider, publicUrl: string): Promise<boolean> {
  const registered = await client.pingbacks('get');
  if (registered.some((addr) => publicUrl.startsWith(addr.replace(/\/+$/, '')))) return false;
  await client.pingbacks('add', publicUrl);
  return true;
}
