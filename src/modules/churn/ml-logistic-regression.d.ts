// ml-logistic-regression 2.0.0 ships no types: the part the churn model uses. Its two-class trainer is imported
// directly: the package's default export is one-vs-all, which for two classes fits the same model twice.
declare module "ml-logistic-regression/src/logreg_2classes.js" {
  import type { Matrix } from "ml-matrix";

  export default class LogisticRegressionTwoClasses {
    constructor(options?: { numSteps?: number; learningRate?: number });
    weights: Matrix;
    /** Batch gradient ascent on the log-likelihood: `target` a column of 0/1. */
    train(features: Matrix, target: Matrix): void;
    testScores(features: Matrix): number[];
  }
}
