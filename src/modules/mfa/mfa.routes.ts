import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { UserIdParamSchema } from "../users/users.schema";
import {
  RecoveryCodesSchema,
  RemoveTotpSchema,
  StartTotpSchema,
  TotpEnrolmentSchema,
  VerifyTotpSchema,
} from "./mfa.schema";
import * as mfa from "./mfa.service";

const tags = ["MFA"];

const startRoute = defineRoute({
  method: "post",
  path: "/v1/users/{id}/mfa/totp",
  tags,
  summary: "Start TOTP enrolment",
  description:
    "A new secret for an authenticator app (RFC 6238: SHA-1, 6 digits, 30 s), shown this once; it takes effect " +
    "only after POST …/mfa/totp/verify. Starting again replaces a pending enrolment, never an active one.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  self: "id",
  errors: [404, 409],
  request: {
    params: UserIdParamSchema,
    body: { required: false, content: { "application/json": { schema: StartTotpSchema } } },
  },
  responses: {
    201: { description: "The pending enrolment", content: { "application/json": { schema: TotpEnrolmentSchema } } },
  },
});

const verifyRoute = defineRoute({
  method: "post",
  path: "/v1/users/{id}/mfa/totp/verify",
  tags,
  summary: "Activate TOTP with a current code",
  description: "A code is accepted once: neither it nor an older one works again. Returns ten recovery codes, once.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  self: "id",
  errors: [404, 409],
  request: {
    params: UserIdParamSchema,
    body: { required: true, content: { "application/json": { schema: VerifyTotpSchema } } },
  },
  responses: {
    200: { description: "TOTP is active", content: { "application/json": { schema: RecoveryCodesSchema } } },
  },
});

const removeRoute = defineRoute({
  method: "delete",
  path: "/v1/users/{id}/mfa/totp",
  tags,
  summary: "Remove TOTP",
  description:
    "Removes the enrolment and its recovery codes. Users removing their own active TOTP (their access token) " +
    "prove it with `code`, a current TOTP code or an unused recovery code: missing or wrong → 400 " +
    "INVALID_TOTP_CODE; after five wrong codes, each further one locks the check for longer (429, Retry-After). " +
    "A caller with users:write (an admin or manager key) removes anyone's TOTP without a code.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  self: "id",
  errors: [404, 409, 429],
  request: {
    params: UserIdParamSchema,
    body: { required: false, content: { "application/json": { schema: RemoveTotpSchema } } },
  },
  responses: { 204: { description: "Removed, with its recovery codes" } },
});

export const mfaRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(startRoute, async (c) => {
    const { issuer } = c.req.valid("json");
    const enrolment = await mfa.startTotp(await serviceContext(c), c.req.valid("param").id, issuer);
    return c.json(enrolment, 201, { "Cache-Control": "no-store" });
  })
  .openapi(verifyRoute, async (c) => {
    const { code } = c.req.valid("json");
    const codes = await mfa.verifyTotp(await serviceContext(c), c.req.valid("param").id, code);
    return c.json(codes, 200, { "Cache-Control": "no-store" });
  })
  .openapi(removeRoute, async (c) => {
    const { code } = c.req.valid("json");
    await mfa.removeUserTotp(await serviceContext(c), c.req.valid("param").id, code);
    return c.body(null, 204);
  });
