import type { ServiceContext } from "../../core/context";
import { uniqueViolation } from "../../core/db/statements";
import { ApiError, CoreErrors, type FieldError } from "../../core/errors";
import { newId } from "../../core/ids";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { type Channel, localeChain, type NotifiableEvent, normalizeLocale, SAMPLE_DATA } from "./catalogue";
import {
  DEFAULT_TEMPLATES,
  findDefaultTemplate,
  findDefaultTemplateById,
  isDefaultTemplateId,
  type TemplateContent,
} from "./defaults";
import { NotificationErrors } from "./notifications.errors";
import { render, templateProblems, variablesOf } from "./render";
import {
  deleteTemplateRow,
  findTemplateRow,
  insertTemplateRow,
  listTemplateRows,
  type TemplateRow,
  templatesFor,
  updateTemplateRow,
} from "./templates.repo";
import { type CreateTemplateInput, LIMITS, type Template, type TemplatePatch } from "./templates.schema";

function toTemplate(content: TemplateContent, row?: TemplateRow): Template {
  const variables = [content.subject ?? "", content.html ?? "", content.text].flatMap(variablesOf);
  return {
    id: content.id,
    name: content.name,
    event: content.event,
    channel: content.channel,
    locale: content.locale,
    subject: content.subject,
    html: content.html,
    text: content.text,
    builtIn: row === undefined,
    variables: [...new Set(variables)],
    createdAt: row?.createdAt ?? null,
    updatedAt: row?.updatedAt ?? null,
  };
}

/** What a channel accepts: email needs a subject, SMS is text only, HTML is email's. Plus the syntax of each part. */
function assertValidContent(content: Pick<TemplateContent, "channel" | "subject" | "html" | "text">): void {
  const errors: FieldError[] = [];
  const refuse = (field: string, code: string, detail: string) => errors.push({ field, code, detail });
  if (content.channel === "email" && !content.subject) refuse("subject", "required", "An email needs a subject.");
  if (content.channel === "sms" && content.subject) refuse("subject", "not_allowed", "An SMS has no subject.");
  if (content.channel !== "email" && content.html) refuse("html", "not_allowed", "Only an email has an HTML body.");
  if (content.channel === "sms" && content.text.length > LIMITS.sms) {
    refuse("text", "too_long", `An SMS body is at most ${LIMITS.sms} characters.`);
  }
  if (content.channel === "push" && content.text.length > LIMITS.push) {
    refuse("text", "too_long", `A push body is at most ${LIMITS.push} characters.`);
  }
  for (const field of ["subject", "html", "text"] as const) {
    for (const problem of templateProblems(content[field] ?? "")) refuse(field, "invalid_template", problem.detail);
  }
  if (errors.length > 0) throw new ApiError(CoreErrors.VALIDATION_FAILED, { errors });
}

function notFound(id: string): ApiError {
  return new ApiError(NotificationErrors.TEMPLATE_NOT_FOUND, { detail: `No notification template ${id}.` });
}

export async function createTemplate(ctx: ServiceContext, input: CreateTemplateInput): Promise<Template> {
  const at = new Date().toISOString();
  const row: TemplateRow = {
    id: newId("ntp"),
    name: input.name,
    event: input.event as NotifiableEvent,
    channel: input.channel,
    locale: normalizeLocale(input.locale),
    subject: input.subject ?? null,
    html: input.html ?? null,
    text: input.text,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  assertValidContent(row);
  const changes = diffChanges(null, { name: row.name, event: row.event, channel: row.channel, locale: row.locale });
  try {
    await ctx.db.batch([
      insertTemplateRow(ctx.db, row),
      await auditStatement(
        ctx,
        { action: "notification_template.created", resource: { type: "notification_template", id: row.id }, changes },
        { at },
      ),
    ]);
  } catch (error) {
    if (uniqueViolation(error)) {
      throw new ApiError(NotificationErrors.TEMPLATE_EXISTS, {
        detail: `A template for ${row.event} by ${row.channel} in ${row.locale} exists: change that one.`,
      });
    }
    throw error;
  }
  return toTemplate(row, row);
}

export async function listTemplates(
  ctx: ServiceContext,
  query: {
    event?: string | undefined;
    channel?: Channel | undefined;
    locale?: string | undefined;
    includeDefaults: string;
  },
): Promise<Template[]> {
  const filter = { ...query, locale: query.locale ? normalizeLocale(query.locale) : undefined };
  const own = (await listTemplateRows(ctx.db, filter)).map((row) => toTemplate(row, row));
  if (query.includeDefaults === "false") return own;
  const defaults = DEFAULT_TEMPLATES.filter(
    (t) =>
      (!filter.event || t.event === filter.event) &&
      (!filter.channel || t.channel === filter.channel) &&
      (!filter.locale || t.locale === filter.locale),
  ).map((t) => toTemplate(t));
  return [...own, ...defaults];
}

async function contentOf(ctx: ServiceContext, id: string): Promise<{ content: TemplateContent; row?: TemplateRow }> {
  if (isDefaultTemplateId(id)) {
    const content = findDefaultTemplateById(id);
    if (!content) throw notFound(id);
    return { content };
  }
  const row = await findTemplateRow(ctx.db, id);
  if (!row) throw notFound(id);
  return { content: row, row };
}

export async function getTemplate(ctx: ServiceContext, id: string): Promise<Template> {
  const { content, row } = await contentOf(ctx, id);
  return toTemplate(content, row);
}

function readOnly(id: string): ApiError {
  return new ApiError(NotificationErrors.DEFAULT_TEMPLATE, {
    detail: `${id} ships with the service. Create a template for the same event, channel and locale to replace it.`,
  });
}

export async function updateTemplate(ctx: ServiceContext, id: string, patch: TemplatePatch): Promise<Template> {
  if (isDefaultTemplateId(id)) throw readOnly(id);
  const row = await findTemplateRow(ctx.db, id);
  if (!row) throw notFound(id);
  const next: TemplateRow = {
    ...row,
    name: patch.name ?? row.name,
    subject: patch.subject === undefined ? row.subject : patch.subject,
    html: patch.html === undefined ? row.html : patch.html,
    text: patch.text ?? row.text,
    updatedAt: new Date().toISOString(),
    version: row.version + 1,
  };
  assertValidContent(next);
  const fields = (t: TemplateRow) => ({ name: t.name, subject: t.subject, html: t.html, text: t.text });
  const [update] = await ctx.db.batch([
    updateTemplateRow(ctx.db, next, row.version),
    await auditStatement(
      ctx,
      {
        action: "notification_template.updated",
        resource: { type: "notification_template", id },
        changes: diffChanges(fields(row), fields(next)),
      },
      { at: next.updatedAt, onlyIfPreviousChanged: true },
    ),
  ]);
  if (!update?.meta.changes) {
    throw new ApiError(CoreErrors.CONFLICT, {
      detail: "The template changed at the same time; read it and try again.",
    });
  }
  return toTemplate(next, next);
}

export async function deleteTemplate(ctx: ServiceContext, id: string): Promise<void> {
  if (isDefaultTemplateId(id)) throw readOnly(id);
  const [deleted] = await ctx.db.batch([
    deleteTemplateRow(ctx.db, id),
    await auditStatement(
      ctx,
      { action: "notification_template.deleted", resource: { type: "notification_template", id } },
      { onlyIfPreviousChanged: true },
    ),
  ]);
  if (!deleted?.meta.changes) throw notFound(id);
}

export interface RenderedMessage {
  subject: string | null;
  html: string | null;
  text: string;
  warnings: string[];
}

/** Renders every part of a template with `data`: variables HTML-escaped in `html`, as they are elsewhere. */
export function renderTemplate(content: TemplateContent, data: Readonly<Record<string, unknown>>): RenderedMessage {
  const subject = content.subject === null ? null : render(content.subject, data, "text");
  const html = content.html === null ? null : render(content.html, data, "html");
  const text = render(content.text, data, "text");
  const warnings = new Set([...(subject?.missing ?? []), ...(html?.missing ?? []), ...text.missing]);
  return { subject: subject?.output ?? null, html: html?.output ?? null, text: text.output, warnings: [...warnings] };
}

export async function previewTemplate(
  ctx: ServiceContext,
  id: string,
  data: Record<string, unknown> | undefined,
): Promise<RenderedMessage> {
  const { content } = await contentOf(ctx, id);
  return renderTemplate(content, data ?? SAMPLE_DATA[content.event]);
}

/**
 * The template a message uses: the tenant's own along the locale chain (`fr-CA`, `fr`, the default locale, `en`),
 * else a shipped default along the same chain; none means the message is not sent on that channel. The tenant's
 * own wording wins over a shipped translation, so a tenant that rewrote only English gets its English everywhere
 * rather than a mix of its text and ours.
 */
export async function resolveTemplate(
  db: D1Database,
  event: NotifiableEvent,
  channel: Channel,
  locale: string | null,
  defaultLocale: string,
): Promise<TemplateContent | null> {
  const chain = localeChain(locale, defaultLocale);
  const own = await templatesFor(db, event, channel, chain);
  for (const candidate of chain) {
    const found = own.find((row) => row.locale === candidate);
    if (found) return found;
  }
  for (const candidate of chain) {
    const found = findDefaultTemplate(event, channel, candidate);
    if (found) return found;
  }
  return null;
}
