import { replaceModelStatements } from "../../src/modules/churn/churn.repo";

type Scores = Parameters<typeof replaceModelStatements>[2];

/**
 * A churn model's stored state, as a training leaves it, with these scores: for tests of what reads the model (the
 * security walks, reports). Training itself needs weeks of activity history: test/churn is its subject.
 */
export async function storeChurnModel(db: D1Database, scores: Scores = []): Promise<void> {
  const report = {
    trainedAt: new Date().toISOString(),
    cutoffs: { training: [], holdout: [] },
    trainingRows: 0,
    holdoutRows: 0,
    churnRate: { training: 0, holdout: 0 },
    features: [],
    auc: null,
    precisionAtK: null,
    k: 1,
    baseline: { auc: null, precisionAtK: null },
    coefficients: {},
    standardisation: {},
  };
  await db.batch(replaceModelStatements(db, report, scores));
}
