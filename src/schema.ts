import { builder } from "./builder.js";
import "./modules/errors/errors.schema.js";
import "./modules/system/system.schema.js";

/** The executable schema: every module's types and root fields. */
export const schema = builder.toSchema();
