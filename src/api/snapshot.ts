/** The compiled, versioned per-namespace config a sidecar runs on: what the operator pushes and standalone mode builds. */
import { z } from 'zod';
import { modelBudgetSpec } from './modelbudget.js';
import { modelRouteSpec } from './modelroute.js';

export const compiledRoute = z.object({
  name: z.string(),
  spec: modelRouteSpec,
  /** The operator's online calibration (spec.classifier.adapt, from status.calibration): added to the premium share. */
  calibration: z.object({ offset: z.number().min(0).max(0.5) }).optional(),
});
export type CompiledRoute = z.infer<typeof compiledRoute>;

export const compiledBudget = z.object({
  name: z.string(),
  spec: modelBudgetSpec,
});
export type CompiledBudget = z.infer<typeof compiledBudget>;

export const snapshot = z.object({
  /** Content hash of routes + budgets: equal configs have equal versions, whatever order they arrived in. */
  version: z.string().min(1),
  namespace: z.string().min(1),
  routes: z.array(compiledRoute),
  budgets: z.array(compiledBudget),
  /** Route used for `model: "auto"` (the route named `default`, else the first by name). */
  defaultRoute: z.string().optional(),
});
export type Snapshot = z.infer<typeof snapshot>;
