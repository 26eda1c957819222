import { defineErrors } from "../../core/errors";

export const ReportErrors = defineErrors({
  REPORT_NOT_GENERATED: { status: 409, title: "The run has no artefact yet" },
});
