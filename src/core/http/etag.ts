import { ApiError, CoreErrors } from "../errors";

/** A strong ETag from a resource's version counter (RFC 9110 §8.8.3). */
export function etagOf(version: number): string {
  return `"v${version}"`;
}

function tags(header: string): string[] {
  return header.split(",").map((t) => t.trim().replace(/^W\//, ""));
}

/** If-None-Match (RFC 9110 §13.1.2): true when the client's copy is current (answer 304). */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.trim() === "*" || tags(ifNoneMatch).includes(etag);
}

/** If-Match (RFC 9110 §13.1.1, strong comparison): throws 412 when it does not match. */
export function assertIfMatch(ifMatch: string | undefined, etag: string): void {
  if (!ifMatch || ifMatch.trim() === "*") return;
  const strong = ifMatch.split(",").map((t) => t.trim());
  if (!strong.includes(etag)) {
    throw new ApiError(CoreErrors.PRECONDITION_FAILED, {
      detail: `If-Match ${ifMatch} does not match the current ETag ${etag}.`,
      headers: { ETag: etag },
    });
  }
}
