/** AdmissionReview (admission.k8s.io/v1) in and out: parsing the request and shaping allowed, patched and denied responses. */
import { z } from 'zod';
import type { JsonPatchOp } from './json-patch.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export const admissionRequest = z.looseObject({
  uid: z.string().min(1),
  kind: z.looseObject({ group: z.string(), version: z.string(), kind: z.string() }),
  namespace: z.string().optional(),
  operation: z.string().optional(),
  object: z.unknown(),
  dryRun: z.boolean().optional(),
});
export type AdmissionRequest = z.infer<typeof admissionRequest>;

/** Just enough to know the body is meant as an AdmissionReview, so the reply can carry the uid the apiserver expects. */
const reviewEnvelope = z.looseObject({
  apiVersion: z.literal(ADMISSION_API_VERSION),
  kind: z.literal('AdmissionReview'),
  request: z.looseObject({ uid: z.string().min(1) }),
});

export type ParsedReview =
  | { kind: 'ok'; request: AdmissionRequest }
  /** An AdmissionReview whose request is unusable: answered in-band, so the apiserver shows the message. */
  | { kind: 'invalid'; uid: string; message: string }
  /** Not an AdmissionReview at all: answered with HTTP 400. */
  | { kind: 'not-a-review'; message: string };

export function parseReview(body: unknown): ParsedReview {
  const env = reviewEnvelope.safeParse(body);
  if (!env.success) {
    return {
      kind: 'not-a-review',
      message: `expected an ${ADMISSION_API_VERSION} AdmissionReview with request.uid: ${env.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')}`,
    };
  }
  const req = admissionRequest.safeParse(env.data.request);
  if (!req.success) {
    const problems = req.error.issues.map((i) => `request.${i.path.join('.')}: ${i.message}`).join('; ');
    return { kind: 'invalid', uid: env.data.request.uid, message: `malformed AdmissionReview: ${problems}` };
  }
  return { kind: 'ok', request: req.data };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
}

export function review(response: AdmissionResponse) {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

/** Allowed, with the patch base64-encoded as the API requires; no patch fields at all when there is nothing to change. */
export function allow(
  uid: string,
  ops: readonly JsonPatchOp[] = [],
  warnings: string[] = [],
): AdmissionResponse {
  const r: AdmissionResponse = { uid, allowed: true };
  if (ops.length > 0) {
    r.patchType = 'JSONPatch';
    r.patch = Buffer.from(JSON.stringify(ops)).toString('base64');
  }
  if (warnings.length > 0) r.warnings = warnings;
  return r;
}

export function deny(uid: string, code: number, message: string): AdmissionResponse {
  return {
    uid,
    allowed: false,
    status: { code, message, reason: code === 400 ? 'BadRequest' : 'Forbidden' },
  };
}
