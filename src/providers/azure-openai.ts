/** Adapter for Azure OpenAI: the OpenAI wire format, with the deployment in the path and Azure's credentials. */
import type { Provider } from '../api/modelroute.js';
import type { KeyResolution, TokenSource } from './keys.js';
import { createOpenAIWireAdapter } from './openai.js';
import { type ProviderAdapter, ProviderError } from './types.js';

export const AZURE_API_VERSION = '2024-10-21';

/** `<endpoint>/openai/deployments/<deployment>/chat/completions?api-version=<v>`; the deployment is URL-encoded. */
export function azureChatURL(endpoint: string, deployment: string, apiVersion: string): string {
  return azureURL(endpoint, deployment, 'chat/completions', apiVersion);
}

/** The same deployment's `/embeddings` endpoint. */
export function azureEmbeddingsURL(endpoint: string, deployment: string, apiVersion: string): string {
  return azureURL(endpoint, deployment, 'embeddings', apiVersion);
}

function azureURL(endpoint: string, deployment: string, op: string, apiVersion: string): string {
  const base = endpoint.replace(/\/+$/, '').replace(/\/openai$/, '');
  return `${base}/openai/deployments/${encodeURIComponent(deployment)}/${op}?api-version=${encodeURIComponent(apiVersion)}`;
}

/**
 * `key` resolves the api-key (auth: api-key) or the Entra ID access token (auth: bearer). A bearer source is a
 * TokenSource: a 401 invalidates it, and when the re-read token differs the call is retried once at once.
 */
export function createAzureOpenAIAdapter(
  p: Provider,
  key: (() => KeyResolution) | TokenSource,
): ProviderAdapter {
  const name = p.name;
  const endpoint = p.baseURL ?? '';
  const apiVersion = p.azure?.apiVersion ?? AZURE_API_VERSION;
  const bearer = p.azure?.auth === 'bearer';
  const urls = new Map<string, string>();
  const what = bearer ? 'bearer token' : 'API key';
  return createOpenAIWireAdapter({
    name,
    type: p.type,
    url(model) {
      const deployment = p.azure?.deployment ?? model;
      let u = urls.get(deployment);
      if (!u) {
        u = azureChatURL(endpoint, deployment, apiVersion);
        if (urls.size >= 256) urls.clear();
        urls.set(deployment, u);
      }
      return u;
    },
    embeddingsUrl: (model) => azureEmbeddingsURL(endpoint, p.azure?.deployment ?? model, apiVersion),
    unavailable() {
      if (!endpoint) return `provider "${name}" has no endpoint (baseURL)`;
      const k = key();
      return k.ok ? undefined : `provider "${name}" has no ${what}: ${k.why}`;
    },
    auth() {
      const k = key();
      if (!k.ok) throw new ProviderError('unavailable', `provider "${name}" has no ${what}: ${k.why}`);
      const headers: Record<string, string> = { ...(p.headers ?? {}) };
      if (bearer) headers['authorization'] = `Bearer ${k.key}`;
      else headers['api-key'] = k.key;
      return { headers, secret: k.key };
    },
    refreshAuth(used) {
      if (!('invalidate' in key)) return false;
      key.invalidate();
      const k = key();
      return k.ok && k.key !== used;
    },
  });
}
