/**
 * Set-based writes: many rows go to D1 as one JSON array bound to one parameter and are expanded with
 * `json_each`, because D1 binds at most 100 parameters per statement and a statement per row costs far
 * more than the row. Arrays are cut at about `maxBytes` (D1 caps a bound value at 2 MB).
 */
export function jsonChunks<T>(rows: readonly T[], maxBytes = 900_000): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (current.length > 0 && size + json.length + 1 > maxBytes) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(",")}]`);
  return chunks;
}
