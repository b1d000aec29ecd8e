/**
 * Event types with a meaning in the protocol itself (not only for people reading the
 * event log). The Python SDK spells them again in `callassistant/__init__.py`.
 */

/**
 * The event type a module reports (EventService.ReportEvent) when the entities it
 * discovered on its own changed: the orchestrator reads its ListEntities again.
 */
export const ENTITIES_CHANGED_EVENT = "entities.changed";
