import { builder } from "./builder.js";
import "./modules/errors/errors.schema.js";
import "./modules/system/system.schema.js";
import "./modules/tenants/tenants.schema.js";
import "./modules/identity/identity.schema.js";
import "./modules/auth/auth.schema.js";
import "./modules/api-keys/api-keys.schema.js";
import "./modules/audit/audit.schema.js";
import "./modules/event-types/event-types.schema.js";
import "./modules/endpoints/endpoints.schema.js";
import "./modules/events/events.schema.js";
import "./modules/deliveries/deliveries.schema.js";
import "./modules/agents/agents.schema.js";
import "./modules/console/console.schema.js";
import "./modules/settings/settings.schema.js";
import "./modules/nodes/nodes.schema.js";

/** The executable schema: every module's types and root fields. */
export const schema = builder.toSchema();
