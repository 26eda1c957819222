import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { UserIdParamSchema } from "../users/users.schema";
import { confirmEmailVerification, requestEmailVerification } from "./email-verification.service";
import {
  EmailVerificationConfirmSchema,
  PasswordResetConfirmSchema,
  PasswordResetRequestSchema,
  SetPasswordSchema,
  TokenIssuedSchema,
} from "./passwords.schema";
import { confirmPasswordReset, requestPasswordReset, setPassword } from "./passwords.service";

const tags = ["Users"];
const json = <T>(schema: T) => ({ content: { "application/json": { schema } } });

const setRoute = defineRoute({
  method: "post",
  path: "/v1/users/{id}/password",
  tags,
  summary: "Set a user's password",
  description:
    "Write-only: stored as a salted, peppered scrypt hash, never returned, and the audit trail records only " +
    "that it changed. The tenant's password policy (GET /v1/security-policy) applies.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  self: "id",
  errors: [404],
  request: { params: UserIdParamSchema, body: { required: true, ...json(SetPasswordSchema) } },
  responses: { 204: { description: "The password is set" } },
});

const requestResetRoute = defineRoute({
  method: "post",
  path: "/v1/password-resets",
  tags,
  summary: "Start a password reset",
  description:
    "When an active user has this email, a single-use token (30 minutes) is issued and handed to the mail " +
    "dispatcher in the `user.password_reset_requested` event. The answer is the same whether or not such a " +
    "user exists.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  request: { body: { required: true, ...json(PasswordResetRequestSchema) } },
  responses: { 202: { description: "Accepted", ...json(TokenIssuedSchema) } },
});

const confirmResetRoute = defineRoute({
  method: "post",
  path: "/v1/password-resets/confirm",
  tags,
  summary: "Finish a password reset",
  description:
    "Spends the token and sets the new password (the policy applies); every access token the user held " +
    "before stops working at once. An unknown, used or expired token is 400 INVALID_TOKEN.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  request: { body: { required: true, ...json(PasswordResetConfirmSchema) } },
  responses: { 204: { description: "The password is set" } },
});

const requestVerificationRoute = defineRoute({
  method: "post",
  path: "/v1/users/{id}/email-verifications",
  tags,
  summary: "Send an email verification",
  description:
    "Issues a single-use token (24 hours) for the user's current email, handed to the mail dispatcher in the " +
    "`user.email_verification_requested` event. Changing the email voids it.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  self: "id",
  errors: [404],
  request: { params: UserIdParamSchema },
  responses: { 202: { description: "Accepted", ...json(TokenIssuedSchema) } },
});

const confirmVerificationRoute = defineRoute({
  method: "post",
  path: "/v1/email-verifications/confirm",
  tags,
  summary: "Confirm an email address",
  description: "Spends the token; the user's `emailVerified` becomes true. Bad tokens are 400 INVALID_TOKEN.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  request: { body: { required: true, ...json(EmailVerificationConfirmSchema) } },
  responses: { 204: { description: "The email is verified" } },
});

export const passwordsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(setRoute, async (c) => {
    await setPassword(await serviceContext(c), c.req.valid("param").id, c.req.valid("json").password);
    return c.body(null, 204);
  })
  .openapi(requestResetRoute, async (c) => {
    const issued = await requestPasswordReset(await serviceContext(c), c.req.valid("json").email);
    return c.json(issued, 202);
  })
  .openapi(confirmResetRoute, async (c) => {
    const { token, password } = c.req.valid("json");
    await confirmPasswordReset(await serviceContext(c), token, password);
    return c.body(null, 204);
  })
  .openapi(requestVerificationRoute, async (c) => {
    const issued = await requestEmailVerification(await serviceContext(c), c.req.valid("param").id);
    return c.json(issued, 202);
  })
  .openapi(confirmVerificationRoute, async (c) => {
    await confirmEmailVerification(await serviceContext(c), c.req.valid("json").token);
    return c.body(null, 204);
  });
