/** Ready payload schemas (draft 2020-12) a UI can offer when creating an agent. */
export const EXAMPLE_PAYLOAD_SCHEMAS = [
  {
    name: "ServiceDesk Plus request",
    description: "A ticket (request) as ManageEngine ServiceDesk Plus webhooks send it.",
    schema: {
      type: "object",
      required: ["request"],
      properties: {
        request: {
          type: "object",
          required: ["id", "subject"],
          properties: {
            id: { type: ["string", "integer"] },
            subject: { type: "string" },
            description: { type: "string" },
            status: { type: "object", properties: { name: { type: "string" } } },
            priority: { type: "object", properties: { name: { type: "string" } } },
            requester: { type: "object", properties: { name: { type: "string" }, email_id: { type: "string" } } },
          },
        },
      },
    },
  },
  {
    name: "Jira issue event",
    description: "An issue event (created, updated) from a Jira webhook.",
    schema: {
      type: "object",
      required: ["webhookEvent", "issue"],
      properties: {
        webhookEvent: { type: "string" },
        issue: {
          type: "object",
          required: ["id", "key", "fields"],
          properties: {
            id: { type: "string" },
            key: { type: "string" },
            fields: {
              type: "object",
              properties: { summary: { type: "string" }, status: { type: "object" }, priority: { type: "object" } },
            },
          },
        },
        user: { type: "object" },
      },
    },
  },
  {
    name: "Generic event",
    description: "Any JSON object with a type and a data object.",
    schema: {
      type: "object",
      required: ["type"],
      properties: { type: { type: "string", minLength: 1 }, id: { type: "string" }, data: { type: "object" } },
    },
  },
] as const;
