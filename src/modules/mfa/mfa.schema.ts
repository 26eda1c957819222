import { z } from "@hono/zod-openapi";

export const StartTotpSchema = z
  .strictObject({
    issuer: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(/^[^:]+$/, "No ':' (it separates issuer and account in the otpauth label).")
      .optional()
      .openapi({ description: "The name authenticator apps show; default 'User Ops Manager'.", example: "Acme" }),
  })
  .openapi("StartTotp", { example: { issuer: "Acme" } });

export const TotpEnrolmentSchema = z
  .object({
    secret: z
      .string()
      .openapi({ description: "Base32, 160 bits. Shown this once.", example: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" }),
    otpauthUri: z.string().openapi({
      example:
        "otpauth://totp/Acme:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme&algorithm=SHA1&digits=6&period=30",
    }),
    qrSvg: z.string().openapi({ description: "The otpauthUri as an SVG QR code.", example: "<svg …>" }),
  })
  .openapi("TotpEnrolment");

export const VerifyTotpSchema = z
  .strictObject({
    code: z
      .string()
      .regex(/^\d{6}$/, "Six digits.")
      .openapi({ example: "123456" }),
  })
  .openapi("VerifyTotp", { example: { code: "123456" } });

export const RecoveryCodesSchema = z
  .object({
    recoveryCodes: z
      .array(z.string())
      .openapi({ description: "Ten single-use codes, shown this once.", example: ["k7qm-2xrp-9tfa-m4ze"] }),
  })
  .openapi("RecoveryCodes");

export const RemoveTotpSchema = z
  .strictObject({
    code: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .openapi({
        description:
          "A current TOTP code or an unused recovery code. Required when users remove their own active TOTP; " +
          "ignored for callers acting with the users:write permission on someone else.",
        example: "123456",
      }),
  })
  .openapi("RemoveTotp", { example: { code: "123456" } });
