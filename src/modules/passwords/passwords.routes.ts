import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { PasswordSchema, UserIdParamSchema } from "../users/users.schema";
import { setPassword } from "./passwords.service";

const SetPasswordSchema = z
  .strictObject({ password: PasswordSchema })
  .openapi("SetPassword", { example: { password: "correct horse battery staple" } });

const setRoute = defineRoute({
  method: "post",
  path: "/v1/users/{id}/password",
  tags: ["Users"],
  summary: "Set a user's password",
  description: "Write-only: stored as a salted hash, never returned, and the audit trail records only that it changed.",
  credential: ["tenant"],
  permission: "users:write",
  self: "id",
  errors: [404],
  request: {
    params: UserIdParamSchema,
    body: { required: true, content: { "application/json": { schema: SetPasswordSchema } } },
  },
  responses: { 204: { description: "The password is set" } },
});

export const passwordsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(setRoute, async (c) => {
  await setPassword(await serviceContext(c), c.req.valid("param").id, c.req.valid("json").password);
  return c.body(null, 204);
});
