import { defineErrors } from "../../core/errors";

export const SegmentErrors = defineErrors({
  SEGMENT_NOT_FOUND: { status: 404, title: "Segment not found" },
  SEGMENT_EXISTS: { status: 409, title: "A segment with this name exists" },
  SEGMENT_LIMIT_REACHED: { status: 409, title: "The tenant has as many saved segments as allowed" },
  LEARNED_SEGMENT_READ_ONLY: { status: 409, title: "Learned segments are changed only by retraining" },
});
