import { toCsv } from "./reports.csv";
import type { ReportData } from "./reports.registry";
import { escapeXml, renderChart } from "./reports.svg";

/** What a run keeps and delivers: the artefact of its format, and for email the message parts. */
export interface Rendered {
  contentType: "text/html" | "text/csv" | "application/json";
  artefact: string;
  email?: { subject: string; text: string; html: string; csv?: { filename: string; content: string } };
}

export interface RenderMeta {
  runId: string;
  scheduleId: string;
  report: string;
  from: string;
  to: string;
}

/** The HTML of the email: summary, the charts inline as SVG, and the table (every text escaped). */
export function reportHtml(data: ReportData, tableRows = 200): string {
  const head = data.table.columns.map((c) => `<th align="left">${escapeXml(c)}</th>`).join("");
  const rows = data.table.rows
    .slice(0, tableRows)
    .map((row) => `<tr>${row.map((v) => `<td>${escapeXml(v === null ? "" : String(v))}</td>`).join("")}</tr>`)
    .join("");
  const more =
    data.table.rows.length > tableRows ? `<p>… and ${data.table.rows.length - tableRows} more rows.</p>` : "";
  return [
    "<!DOCTYPE html>",
    `<html><head><meta charset="utf-8"><title>${escapeXml(data.title)}</title></head><body style="font-family:sans-serif">`,
    `<h1>${escapeXml(data.title)}</h1>`,
    ...data.summary.map((line) => `<p>${escapeXml(line)}</p>`),
    ...data.charts.map((chart) => `<div>${renderChart(chart)}</div>`),
    `<table border="1" cellpadding="4" cellspacing="0"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`,
    more,
    "</body></html>",
  ].join("\n");
}

function reportText(data: ReportData, csvAttached: boolean): string {
  const table = data.table.rows.slice(0, 50).map((row) => row.map((v) => (v === null ? "" : String(v))).join("\t"));
  return [
    data.title,
    "",
    ...data.summary,
    "",
    csvAttached ? "The table is attached as CSV." : [data.table.columns.join("\t"), ...table].join("\n"),
  ].join("\n");
}

/** The JSON document a `json` schedule POSTs (and keeps): the report data with the run it belongs to. */
export function reportPayload(data: ReportData, meta: RenderMeta) {
  return {
    type: "report.generated",
    timestamp: meta.to,
    data: {
      runId: meta.runId,
      scheduleId: meta.scheduleId,
      report: meta.report,
      period: { from: meta.from, to: meta.to },
      ...data,
    },
  };
}

export function render(format: "html" | "csv" | "json", data: ReportData, meta: RenderMeta): Rendered {
  if (format === "json") {
    return { contentType: "application/json", artefact: JSON.stringify(reportPayload(data, meta)) };
  }
  const html = reportHtml(data);
  const subject = `${data.title} (${meta.to.slice(0, 10)})`;
  if (format === "html") {
    return { contentType: "text/html", artefact: html, email: { subject, text: reportText(data, false), html } };
  }
  const csv = toCsv(data.table.columns, data.table.rows);
  const filename = `${meta.report}-${meta.to.slice(0, 10)}.csv`;
  return {
    contentType: "text/csv",
    artefact: csv,
    email: { subject, text: reportText(data, true), html, csv: { filename, content: csv } },
  };
}
