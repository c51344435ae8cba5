/**
 * Learned models: the shipped one (weights.json, decoded once per process) and ones a team trained
 * (`tiermesh train`), loaded from a file and validated before use.
 *
 *   loadLearnedClassifier(): LearnedClassifier           the shipped model
 *   loadModelFile(path): LearnedClassifier               throws ModelFileError (size, JSON, shape, layout)
 */
import { readFileSync, statSync } from 'node:fs';
import { classifierFromModel, type LearnedClassifier, ModelFileError } from './classifier.js';
import shipped from './weights.json' with { type: 'json' };
import { MAX_MODEL_BYTES } from './weights-file.js';

export type { LearnedClassifier } from './classifier.js';
export { ModelFileError } from './classifier.js';

let cached: LearnedClassifier | undefined;

/** The shipped classifier, decoded once per process. */
export function loadLearnedClassifier(): LearnedClassifier {
  cached ??= classifierFromModel(shipped);
  return cached;
}

/** Parses and validates a model file's text (size first, then JSON, then shape). */
export function classifierFromText(text: string, what = 'model'): LearnedClassifier {
  if (Buffer.byteLength(text) > MAX_MODEL_BYTES)
    throw new ModelFileError(`${what} is larger than ${MAX_MODEL_BYTES} bytes; refusing to load it`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ModelFileError(`${what} is not valid JSON (corrupt or truncated)`);
  }
  try {
    return classifierFromModel(json);
  } catch (e) {
    throw e instanceof ModelFileError ? new ModelFileError(`${what}: ${e.message}`) : e;
  }
}

export function loadModelFile(path: string): LearnedClassifier {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new ModelFileError(`model file ${path} cannot be read`);
  }
  if (size > MAX_MODEL_BYTES)
    throw new ModelFileError(`model file ${path} is ${size} bytes, over the ${MAX_MODEL_BYTES}-byte limit`);
  return classifierFromText(readFileSync(path, 'utf8'), `model file ${path}`);
}
