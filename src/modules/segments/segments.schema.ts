import { z } from "@hono/zod-openapi";

/** A saved segment's name: a slug. Learned ones are `learned:<slug>` (the colon keeps the two apart). */
export const SAVED_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const LEARNED_PREFIX = "learned:";
/** Saved segments per tenant: each costs one COUNT in the list, so the list stays cheap. */
export const MAX_SAVED_SEGMENTS = 100;

const Name = z
  .string()
  .regex(SAVED_NAME, "A slug: 1–64 lower-case letters, digits and dashes, starting with a letter or digit.")
  .openapi({ example: "at-risk" });

const Filter = z
  .string()
  .min(1)
  .max(2000)
  .openapi({
    description:
      'A users filter (API.md, "Filter expressions"), validated as GET /v1/users validates it; it may not name ' +
      "another segment.",
    example: 'lastActiveAt lt "now-30d" and status eq "active"',
  });

const Description = z.string().trim().max(500);

export const CreateSegmentSchema = z
  .strictObject({ name: Name, description: Description.nullish(), filter: Filter })
  .openapi("CreateSegment", {
    example: { name: "at-risk", description: "Quiet for a month", filter: 'lastActiveAt lt "now-30d"' },
  });
export type CreateSegmentInput = z.infer<typeof CreateSegmentSchema>;

export const SegmentPatchSchema = z
  .strictObject({
    description: Description.nullable().optional().openapi({ description: "null removes it." }),
    filter: Filter.optional(),
  })
  .openapi("SegmentPatch", {
    description: "A JSON merge patch (RFC 7396) of a saved segment.",
    example: { description: "Quiet for two months", filter: 'lastActiveAt lt "now-60d"' },
  });
export type SegmentPatch = z.infer<typeof SegmentPatchSchema>;

export const SegmentNameParamSchema = z.object({
  name: z
    .string()
    .min(1)
    .max(80)
    .openapi({ param: { name: "name", in: "path" }, example: "at-risk", description: "`at-risk`, `learned:dormant`" }),
});

export const SegmentListQuerySchema = z.strictObject({
  counts: z
    .enum(["true", "false"])
    .default("true")
    .transform((value) => value === "true")
    .openapi({ description: "`false` leaves out the live counts (one COUNT per saved segment)." }),
});

export const FEATURE_NAMES = [
  "recencyDays",
  "activeDays7",
  "activeDays30",
  "events30",
  "logins30",
  "tenureDays",
  "breadth30",
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

const Centroid = z
  .object(Object.fromEntries(FEATURE_NAMES.map((name) => [name, z.number()])) as Record<FeatureName, z.ZodNumber>)
  .openapi("LearnedCentroid", {
    description: "The members' mean of each behaviour feature, in its own units (days, counts; docs/activity.md).",
  });
export type CentroidValues = z.infer<typeof Centroid>;

export const SegmentSchema = z
  .object({
    name: z.string().openapi({ example: "at-risk" }),
    kind: z.enum(["saved", "learned"]),
    description: z.string().nullable(),
    filter: z
      .string()
      .openapi({ description: 'For a learned segment, its membership: `segment eq "learned:<slug>"`.' }),
    count: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Live users the segment matches now; null with counts=false." }),
    size: z.number().int().nullable().openapi({ description: "Learned: the members at training time." }),
    centroid: Centroid.nullable(),
    silhouette: z
      .number()
      .nullable()
      .openapi({ description: "Learned: the mean silhouette of its members (−1 to 1: how well it stands apart)." }),
    trainedAt: z.string().nullable(),
    createdAt: z.string().nullable(),
    updatedAt: z.string().nullable(),
  })
  .openapi("Segment");
export type Segment = z.infer<typeof SegmentSchema>;

export const LearningSchema = z
  .object({
    status: z.enum(["never_trained", "trained", "too_few_users"]).openapi({
      description: "`too_few_users`: fewer users than `minimumUsers`, so no learned segments (docs/segments.md).",
    }),
    k: z.number().int().nullable(),
    silhouette: z.number().nullable(),
    users: z.number().int().openapi({ description: "Users clustered (or counted, when too few)." }),
    minimumUsers: z.number().int(),
    detail: z.string(),
    trainedAt: z.string().nullable(),
  })
  .openapi("SegmentLearning");
export type Learning = z.infer<typeof LearningSchema>;

export const SegmentListSchema = z
  .object({ data: z.array(SegmentSchema), learning: LearningSchema })
  .openapi("SegmentList");

export const RetrainResultSchema = z
  .object({ learning: LearningSchema, segments: z.array(SegmentSchema) })
  .openapi("SegmentRetrainResult");
