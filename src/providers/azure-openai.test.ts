import { describe, expect, it } from 'vitest';
import { azureChatURL, azureEmbeddingsURL } from './azure-openai.js';

describe('Azure OpenAI URLs', () => {
  it('put the deployment in the path and the api-version in the query, for chat and embeddings alike', () => {
    expect(azureChatURL('https://r.openai.azure.com/', 'gpt 4o', '2024-10-21')).toBe(
      'https://r.openai.azure.com/openai/deployments/gpt%204o/chat/completions?api-version=2024-10-21',
    );
    expect(azureEmbeddingsURL('https://r.openai.azure.com/openai', 'emb-3', '2024-10-21')).toBe(
      'https://r.openai.azure.com/openai/deployments/emb-3/embeddings?api-version=2024-10-21',
    );
  });
});
