import type { SignalApi } from '@backstage/plugin-signals-react';

type JsonObject = Parameters<Parameters<SignalApi['subscribe']>[1]>[0];

/** A signals API the test publishes on, by channel. */
export class FakeSignalApi implements SignalApi {
  private readonly listeners = new Map<string, Set<(m: JsonObject) => void>>();
  subscribe<T extends JsonObject = JsonObject>(
    channel: string,
    onMessage: (m: T) => void,
  ) {
    const set = this.listeners.get(channel) ?? new Set();
    const listener = onMessage as (m: JsonObject) => void;
    set.add(listener);
    this.listeners.set(channel, set);
    return {
      unsubscribe: () => {
        set.delete(listener);
      },
    };
  }
  publish(channel: string, message: JsonObject) {
    this.listeners.get(channel)?.forEach(l => l(message));
  }
  subscribers(channel: string) {
    return this.listeners.get(channel)?.size ?? 0;
  }
}
