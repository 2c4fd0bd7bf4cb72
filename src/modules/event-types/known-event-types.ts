import { distance } from "fastest-levenshtein";
import { ValidationError } from "../../lib/errors.js";
import { activeEventTypeNames, eventTypeStates } from "./event-types.store.js";

/** How far (in edits) a typo may be from a real name for the refusal to suggest it. */
const SUGGESTION_DISTANCE = 3;

/** What a name list is for, so the refusal can say why an archived type is refused. */
export interface KnownEventTypesOptions {
  /** The field of the name at `index` (`eventTypes.0`, `actions.2.eventType`). */
  fieldOf(index: number): string;
  /**
   * Names already stored where the list goes (an endpoint's current filter, an agent's current actions): kept even
   * when their type has been archived since, so a form that reads an object and saves it back still saves.
   */
  alreadyStored?: readonly string[];
}

/**
 * Checks that every name is one of the tenant's event types, not archived. Matching is by exact name (endpoint
 * filters and `emitEvent` have no wildcard syntax), so a typo would otherwise be saved and silently never match, or
 * fail every execution. One query for the whole list; a second, only on a refusal, to find a suggestion.
 * @throws ValidationError naming the first bad name's field, with "did you mean ...?" when a type is close.
 */
export async function checkKnownEventTypes(
  tenantId: string,
  names: readonly string[],
  options: KnownEventTypesOptions,
): Promise<void> {
  if (names.length === 0) return;
  const found = await eventTypeStates(tenantId, [...new Set(names)]);
  const kept = new Set(options.alreadyStored ?? []);
  for (const [index, name] of names.entries()) {
    const archived = found.get(name);
    if (archived === false || (archived === true && kept.has(name))) continue;
    if (archived === true) {
      throw new ValidationError(
        `event type "${name}" is archived: it can no longer be published, so nothing would ever match it`,
        options.fieldOf(index),
      );
    }
    const suggestion = await closestEventType(tenantId, name);
    throw new ValidationError(
      `unknown event type "${name}"${suggestion ? `: did you mean ${suggestion}?` : ": create it first (createEventType)"}`,
      options.fieldOf(index),
    );
  }
}

/** The tenant's active event type closest to `name` within a few edits, if any (case-insensitive). */
async function closestEventType(tenantId: string, name: string): Promise<string | undefined> {
  const active = await activeEventTypeNames(tenantId, 10_000);
  let best: { name: string; edits: number } | undefined;
  for (const candidate of active) {
    const edits = distance(name.toLowerCase(), candidate.toLowerCase());
    if (edits <= SUGGESTION_DISTANCE && edits < name.length && (!best || edits < best.edits))
      best = { name: candidate, edits };
  }
  return best?.name;
}
