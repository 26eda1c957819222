import type { Cell } from "./reports.registry";

/**
 * RFC 4180 CSV: CRLF line ends, a field quoted when it holds a comma, a quote, CR or LF (quotes doubled). A text cell
 * starting with = + - @ (or a tab / CR, which some spreadsheets strip first) gets a leading `'`, so a spreadsheet
 * opening the file shows it instead of running it as a formula (OWASP "CSV injection"). Numbers are written as numbers.
 */
function cell(value: Cell): string {
  if (value === null) return "";
  if (typeof value === "number") return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return `${[columns, ...rows].map((row) => row.map(cell).join(",")).join("\r\n")}\r\n`;
}
