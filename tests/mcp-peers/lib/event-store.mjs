// A bounded in-memory event store for one session, so SSE streams can be resumed with Last-Event-ID
// (the SDK sends a priming event and a retry hint only when a store is configured).

/** The SDK stores an empty object as the priming event; it carries no message and is never replayed. */
const isPriming = message => message !== null && typeof message === 'object' && Object.keys(message).length === 0;

export class InMemoryEventStore {
    #events = new Map(); // eventId -> { streamId, message }, in insertion (= delivery) order
    #sequence = 0;
    #capacity;

    constructor(capacity = 5000) {
        this.#capacity = capacity;
    }

    async storeEvent(streamId, message) {
        const eventId = String(++this.#sequence);
        this.#events.set(eventId, { streamId, message });
        if (this.#events.size > this.#capacity) {
            this.#events.delete(this.#events.keys().next().value);
        }
        return eventId;
    }

    async getStreamIdForEventId(eventId) {
        return this.#events.get(eventId)?.streamId;
    }

    async replayEventsAfter(lastEventId, { send }) {
        const last = this.#events.get(lastEventId);
        if (!last) {
            throw new Error(`Unknown or evicted event id ${lastEventId}`);
        }
        let after = false;
        for (const [eventId, { streamId, message }] of this.#events) {
            if (eventId === lastEventId) {
                after = true;
            } else if (after && streamId === last.streamId && !isPriming(message)) {
                await send(eventId, message);
            }
        }
        return last.streamId;
    }
}
