import SCIMMY from "scimmy";
import { describe, expect, it } from "vitest";
import type { FieldDefinition, TenantSchema } from "../../src/modules/schema/fields.types";
import {
  attributesPatch,
  extensionFilterCatalogue,
  extensionSchemaDocument,
  extensionValues,
} from "../../src/modules/scim/scim.extension";

/** The custom-fields extension is a pure function of the tenant's schema: tested with schemas built here. */

function field(name: string, type: FieldDefinition["type"], extra: Partial<FieldDefinition> = {}): FieldDefinition {
  return {
    id: `fld_${name}`,
    name,
    type,
    required: false,
    unique: false,
    pattern: null,
    min: null,
    max: null,
    minLength: null,
    maxLength: null,
    enum: null,
    default: null,
    pii: false,
    restricted: false,
    searchable: false,
    filterable: true,
    sortable: false,
    description: null,
    previousName: null,
    previousNameUntil: null,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}

const schema: TenantSchema = {
  version: 3,
  fields: [
    field("department", "enum", { enum: ["sales", "ops"], required: true }),
    field("seats", "integer"),
    field("score", "number"),
    field("vip", "boolean"),
    field("hiredAt", "datetime"),
    field("birthday", "date"),
    field("tags", "string[]"),
    field("homepage", "url", { unique: true }),
    field("salary", "number", { restricted: true }),
    field("ssn", "string", { pii: true, restricted: true }),
  ],
};

describe("the uom extension schema", () => {
  it("describes each visible field with its SCIM type; restricted and pii fields are left out", () => {
    const doc = extensionSchemaDocument(schema, "http://uom.test/scim/v2") as {
      id: string;
      attributes: {
        name: string;
        type: string;
        multiValued: boolean;
        required: boolean;
        uniqueness: string;
        canonicalValues?: string[];
      }[];
    };
    expect(doc.id).toBe("urn:ietf:params:scim:schemas:extension:uom:2.0:User");
    expect(doc.attributes.map((a) => [a.name, a.type, a.multiValued])).toEqual([
      ["department", "string", false],
      ["seats", "integer", false],
      ["score", "decimal", false],
      ["vip", "boolean", false],
      ["hiredAt", "dateTime", false],
      ["birthday", "string", false],
      ["tags", "string", true],
      ["homepage", "string", false],
    ]);
    expect(doc.attributes[0]).toMatchObject({ required: true, canonicalValues: ["sales", "ops"] });
    expect(doc.attributes.at(-1)).toMatchObject({ uniqueness: "server" });
    // each attribute is one scimmy can build (valid type, characteristics)
    for (const { name, type, multiValued, required, uniqueness, canonicalValues } of doc.attributes) {
      const config = { multiValued, required, uniqueness, ...(canonicalValues ? { canonicalValues } : {}) };
      expect(() => new SCIMMY.Types.Attribute(type as never, name, config as never)).not.toThrow();
    }
  });

  it("maps values both ways, checking SCIM types; lenient mode takes 'True'/'False' for booleans", () => {
    const attributes = { department: "sales", seats: 3, vip: true, salary: 100, tags: ["a"] };
    expect(extensionValues(schema, attributes)).toEqual({ department: "sales", seats: 3, vip: true, tags: ["a"] });
    const patch = attributesPatch(schema, { department: "ops", seats: 4, tags: ["x", "y"] }, { lenient: false });
    expect(patch).toEqual({
      department: "ops",
      seats: 4,
      score: null,
      vip: null,
      hiredAt: null,
      birthday: null,
      tags: ["x", "y"],
      homepage: null,
    });
    expect(patch).not.toHaveProperty("salary");
    expect(() => attributesPatch(schema, { seats: 1.5 }, { lenient: false })).toThrow(/integer/);
    expect(() => attributesPatch(schema, { vip: "True" }, { lenient: false })).toThrow(/boolean/);
    expect(attributesPatch(schema, { vip: "True" }, { lenient: true }).vip).toBe(true);
    expect(() => attributesPatch(schema, { salary: 1 }, { lenient: true })).toThrow(/no attribute "salary"/);
    expect(() => attributesPatch(schema, { tags: "a" }, { lenient: false })).toThrow(/list/);
  });

  it("offers the filterable visible fields to the users filter as attributes.<name>", () => {
    const catalogue = extensionFilterCatalogue(schema);
    expect(Object.keys(catalogue).sort()).toEqual(
      ["birthday", "department", "hiredat", "homepage", "score", "seats", "tags", "vip"].map((n) => `attributes.${n}`),
    );
    expect(catalogue["attributes.seats"]).toMatchObject({
      type: "number",
      column: "json_extract(users.attributes, '$.seats')",
    });
    expect(catalogue["attributes.tags"]?.type).toBe("stringArray");
  });
});
