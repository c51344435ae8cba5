"""
Model2Vec-style static token embeddings from all-MiniLM-L6-v2 (Apache-2.0), for the learned router.

Each WordPiece token of the model's vocabulary goes through the encoder alone ([CLS] token [SEP]); the mean of the
three output vectors is that token's static vector (Model2Vec's distillation). The 384-dim table is then reduced by
PCA to a few components. No routing data is read here: the table is the sentence encoder's, the weighting by token
frequency (SIF) happens in scripts/train-classifier.ts on the training pool.

Writes OUT/pca.f32 (vocab x DIMS float32, little-endian, row-major) and OUT/vocab.txt (one token per line).
Run through scripts/train/distill-embeddings.sh, which pins the packages.
"""
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load

import all_minilm_l6_v2

OUT = Path(sys.argv[1])
DIMS = int(sys.argv[2]) if len(sys.argv) > 2 else 16
HIDDEN, HEADS = 384, 12

with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as z:
    names = z.namelist()
    weights = load(z.read(next(n for n in names if n.endswith('model.safetensors'))))
    tokenizer = json.loads(z.read(next(n for n in names if n.endswith('tokenizer.json'))))


def layer_norm(x, g, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def gelu(x):
    # The tanh form: within 1e-3 of erf-GELU, and fast in numpy.
    return 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def encode(ids):
    """BERT encoder forward pass (batch x tokens) -> mean-pooled output (batch x 384)."""
    w = weights
    b, t = ids.shape
    x = (
        w['embeddings.word_embeddings.weight'][ids]
        + w['embeddings.position_embeddings.weight'][:t][None]
        + w['embeddings.token_type_embeddings.weight'][0][None, None]
    )
    x = layer_norm(x, w['embeddings.LayerNorm.weight'], w['embeddings.LayerNorm.bias'])
    hd = HIDDEN // HEADS
    for layer in range(6):
        p = f'encoder.layer.{layer}.'

        def lin(name, v, p=p):
            return v @ w[p + name + '.weight'].T + w[p + name + '.bias']

        def heads(v):
            return v.reshape(b, t, HEADS, hd).transpose(0, 2, 1, 3)

        q = heads(lin('attention.self.query', x))
        k = heads(lin('attention.self.key', x))
        v = heads(lin('attention.self.value', x))
        a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        c = (a @ v).transpose(0, 2, 1, 3).reshape(b, t, HIDDEN)
        x = layer_norm(
            lin('attention.output.dense', c) + x,
            w[p + 'attention.output.LayerNorm.weight'],
            w[p + 'attention.output.LayerNorm.bias'],
        )
        h = gelu(lin('intermediate.dense', x))
        x = layer_norm(lin('output.dense', h) + x, w[p + 'output.LayerNorm.weight'], w[p + 'output.LayerNorm.bias'])
    return x.mean(1)


vocab = tokenizer['model']['vocab']
size = len(vocab)
cls, sep = vocab['[CLS]'], vocab['[SEP]']
static = np.zeros((size, HIDDEN), np.float32)
for start in range(0, size, 512):
    ids = np.arange(start, min(size, start + 512))
    static[start : start + len(ids)] = encode(np.stack([np.full_like(ids, cls), ids, np.full_like(ids, sep)], 1))
    print(f'{start + len(ids)}/{size}', file=sys.stderr, end='\r')

centred = static - static.mean(0)
_, _, vt = np.linalg.svd(centred, full_matrices=False)
comps = vt[:DIMS]
# SVD signs are arbitrary: fix each component's sign so the output does not depend on the LAPACK build.
comps *= np.sign(comps[np.arange(DIMS), np.abs(comps).argmax(1)])[:, None]
OUT.mkdir(parents=True, exist_ok=True)
(centred @ comps.T).astype('<f4').tofile(OUT / 'pca.f32')
by_id = sorted(vocab.items(), key=lambda kv: kv[1])
assert [i for _, i in by_id] == list(range(size))
(OUT / 'vocab.txt').write_text(''.join(tok + '\n' for tok, _ in by_id), encoding='utf-8')
print(f'\nwrote {OUT}/pca.f32 ({size} x {DIMS}) and vocab.txt', file=sys.stderr)
