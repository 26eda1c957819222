// ml-logistic-regression 2.0.0 ships no types: the part of its API the churn model uses (src/logreg.js).
declare module "ml-logistic-regression" {
  import type { Matrix } from "ml-matrix";

  export default class LogisticRegression {
    constructor(options?: { numSteps?: number; learningRate?: number });
    /** One-vs-all: classifier `i` predicts "not class i", so with labels 0/1 classifier 0 predicts label 1. */
    classifiers: { weights: Matrix }[];
    numberClasses: number;
    train(X: Matrix, Y: Matrix): void;
    predict(X: Matrix): number[];
  }
}
