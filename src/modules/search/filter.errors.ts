/**
 * A malformed SCIM filter (RFC 7644 §3.4.2.2). `position` is the 0-based character offset where the parser
 * stopped, so the route can answer 400 with it (SCIM `scimType: "invalidFilter"`).
 */
export class FilterSyntaxError extends Error {
  override readonly name = "FilterSyntaxError";
  readonly position: number;

  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.position = position;
  }
}

/**
 * A well-formed filter that cannot run against this tenant: unknown or non-filterable attribute, a value of the
 * wrong type, an operator the attribute type does not support, or too many bound parameters.
 * `attribute` names the offending attribute path as the client wrote it (empty when none applies).
 */
export class FilterCompileError extends Error {
  override readonly name = "FilterCompileError";
  readonly attribute: string;

  constructor(message: string, attribute: string) {
    super(message);
    this.attribute = attribute;
  }
}
