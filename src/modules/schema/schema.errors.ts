import { defineErrors } from "../../core/errors";

export const SchemaErrors = defineErrors({
  FIELD_NOT_FOUND: { status: 404, title: "Custom field not found" },
  FIELD_NAME_TAKEN: { status: 409, title: "A custom field has this name" },
  FIELD_LIMIT_REACHED: { status: 409, title: "The tenant has as many custom fields as allowed" },
  FIELD_CHANGE_REFUSED: { status: 409, title: "Existing users' values do not allow this schema change" },
  FIELD_CHANGE_IN_PROGRESS: { status: 409, title: "A change of this field is still being applied" },
  FIELD_VALUE_TAKEN: { status: 409, title: "Another user has this value of a unique field" },
  SCHEMA_CHANGED: { status: 409, title: "The custom-field schema changed during this write; retry it" },
});
