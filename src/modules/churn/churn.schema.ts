import { z } from "@hono/zod-openapi";
import { PageQuerySchema, pageSchema } from "../../core/http/pagination";
import { FEATURES } from "./churn.model";

const BandSchema = z.enum(["low", "medium", "high"]).openapi({
  description: "high: score ≥ 0.5; medium: ≥ 0.2; low: below.",
  example: "high",
});

const MetricsSchema = z.object({
  auc: z.number().nullable().openapi({ description: "Area under the ROC curve on the holdout (ties count ½)." }),
  precisionAtK: z.number().nullable().openapi({ description: "The share of churners among the k highest scores." }),
});

export const ChurnModelReportSchema = z
  .object({
    trainedAt: z.string().openapi({ example: "2026-11-28T03:17:02.412Z" }),
    cutoffs: z.object({
      training: z.array(z.string()).openapi({ description: "The training cut-offs (UTC midnights), oldest first." }),
      holdout: z.array(z.string()).openapi({ description: "The latest labelled cut-offs, never trained on." }),
    }),
    trainingRows: z.number().int(),
    holdoutRows: z.number().int(),
    churnRate: z.object({ training: z.number(), holdout: z.number() }).openapi({
      description: "The share of rows labelled churned (no activity in the 30 days after their cut-off).",
    }),
    features: z.array(z.enum(FEATURES)),
    auc: z.number().nullable().openapi({ description: "The model's AUC on the holdout.", example: 0.9225 }),
    precisionAtK: z.number().nullable().openapi({ example: 0.9393 }),
    k: z.number().int().openapi({ description: "10% of the holdout rows (at least 1).", example: 214 }),
    baseline: MetricsSchema.openapi({ description: "The recency-only baseline (score = days since last active)." }),
    coefficients: z.record(z.string(), z.number()).openapi({
      description: "Per feature, its weight on the standardised log1p value; `intercept` too. > 0 raises the risk.",
    }),
    standardisation: z.record(z.string(), z.object({ mean: z.number(), std: z.number() })),
  })
  .openapi("ChurnModel");
export type ChurnModelReport = z.infer<typeof ChurnModelReportSchema>;

const FactorSchema = z
  .object({
    feature: z.enum(FEATURES),
    value: z.number(),
    contribution: z.number().openapi({ description: "Its term in the score's logit: > 0 raises the risk." }),
    description: z.string().openapi({ example: "24 days since last active (raises the risk)" }),
  })
  .openapi("ChurnFactor");

export const ChurnRiskSchema = z
  .object({
    userId: z.string(),
    score: z.number().openapi({ description: "The probability of no activity in the next 30 days, 0–1." }),
    band: BandSchema,
    factors: z.array(FactorSchema).openapi({ description: "The three features raising the score the most." }),
    suggestion: z.string().openapi({ example: "send the user.re_engagement template" }),
    scoredAt: z.string().openapi({ example: "2026-11-28T03:17:02.412Z" }),
    modelTrainedAt: z.string().openapi({ example: "2026-11-28T03:17:02.412Z" }),
  })
  .openapi("ChurnRisk");
export type ChurnRisk = z.infer<typeof ChurnRiskSchema>;

export const ChurnListQuerySchema = PageQuerySchema.extend({
  band: BandSchema.optional().openapi({ description: "Only this band." }),
});
export type ChurnListQuery = z.infer<typeof ChurnListQuerySchema>;

export const ChurnPageSchema = pageSchema(ChurnRiskSchema, "ChurnRiskPage");
