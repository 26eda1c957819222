import { z } from "@hono/zod-openapi";
import { PasswordSchema } from "../users/users.schema";

const Token = z
  .string()
  .min(1)
  .max(256)
  .openapi({ description: "The token from the mail.", example: "q3Xb9yZ0m5VZsH2n1c8rJtK4wP7eL6fA0dG3hS9uQ2E" });

export const SetPasswordSchema = z
  .strictObject({ password: PasswordSchema })
  .openapi("SetPassword", { example: { password: "correct horse battery staple" } });

export const PasswordResetRequestSchema = z
  .strictObject({
    email: z.email({ error: "Must be an email address." }).max(254).openapi({ example: "ada@example.com" }),
  })
  .openapi("PasswordResetRequest", { example: { email: "ada@example.com" } });

export const PasswordResetConfirmSchema = z
  .strictObject({ token: Token, password: PasswordSchema })
  .openapi("PasswordResetConfirm", {
    example: { token: "q3Xb9yZ0m5VZsH2n1c8rJtK4wP7eL6fA0dG3hS9uQ2E", password: "correct horse battery staple" },
  });

export const EmailVerificationConfirmSchema = z
  .strictObject({ token: Token })
  .openapi("EmailVerificationConfirm", { example: { token: "q3Xb9yZ0m5VZsH2n1c8rJtK4wP7eL6fA0dG3hS9uQ2E" } });

export const TokenIssuedSchema = z
  .object({
    expiresAt: z.string().openapi({
      description: "When the mailed token stops working (also answered when no mail is sent).",
      example: "2026-11-25T19:34:32.123Z",
    }),
  })
  .openapi("TokenIssued");
