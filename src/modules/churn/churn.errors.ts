import { defineErrors } from "../../core/errors";

export const ChurnErrors = defineErrors({
  CHURN_MODEL_NOT_TRAINED: { status: 404, title: "No churn model has been trained yet" },
  CHURN_NOT_SCORED: { status: 404, title: "This user has no churn score yet" },
  CHURN_NOT_ENOUGH_HISTORY: { status: 409, title: "Not enough activity history to train a churn model" },
});
