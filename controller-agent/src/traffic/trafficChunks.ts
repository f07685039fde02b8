import {
  AGENT_PROTOCOL_LIMITS,
  CapturedExchange,
  TRAFFIC_LIMITS,
  TrafficFlow,
} from '@spider/backstage-plugin-spider-common';

/** Part of one whisperer batch that fits one `traffic` message. */
export interface TrafficChunk {
  exchanges: CapturedExchange[];
  flows: TrafficFlow[];
  /** Serialized size of the exchanges and flows (what the message will carry of them). */
  bytes: number;
  /** The part of `bytes` that is flows. */
  flowBytes: number;
}

/**
 * Room for everything in a traffic message besides exchanges and flows: type, agentRun,
 * seq, the instance's identity (≤ 450 bytes), stats and relay counters (≤ 500).
 */
export const TRAFFIC_ENVELOPE_BYTES = 4096;

export interface ChunkLimits {
  maxBytes: number;
  maxExchanges: number;
  maxFlows: number;
}

export const DEFAULT_CHUNK_LIMITS: ChunkLimits = {
  maxBytes:
    AGENT_PROTOCOL_LIMITS.maxTrafficMessageBytes - TRAFFIC_ENVELOPE_BYTES,
  maxExchanges: TRAFFIC_LIMITS.maxExchangesPerBatch,
  maxFlows: TRAFFIC_LIMITS.maxFlowsPerBatch,
};

/**
 * Splits a batch into chunks in order (exchanges first, then flows), each under the
 * message cap and the per-message counts. A single exchange never exceeds the cap: a
 * whole batch is at most TRAFFIC_LIMITS.maxBatchBytes, below the message cap.
 */
export function chunkTraffic(
  exchanges: readonly CapturedExchange[],
  flows: readonly TrafficFlow[],
  limits: ChunkLimits = DEFAULT_CHUNK_LIMITS,
): TrafficChunk[] {
  const chunks: TrafficChunk[] = [];
  let current: TrafficChunk = {
    exchanges: [],
    flows: [],
    bytes: 0,
    flowBytes: 0,
  };
  const add = (size: number, isFlow: boolean) => {
    const count = isFlow ? current.flows.length : current.exchanges.length;
    const max = isFlow ? limits.maxFlows : limits.maxExchanges;
    // +1 for the comma between array items.
    if (current.bytes + size + 1 > limits.maxBytes || count >= max) {
      if (current.exchanges.length || current.flows.length)
        chunks.push(current);
      current = { exchanges: [], flows: [], bytes: 0, flowBytes: 0 };
    }
    current.bytes += size + 1;
    if (isFlow) current.flowBytes += size + 1;
  };
  for (const x of exchanges) {
    add(Buffer.byteLength(JSON.stringify(x)), false);
    current.exchanges.push(x);
  }
  for (const f of flows) {
    add(Buffer.byteLength(JSON.stringify(f)), true);
    current.flows.push(f);
  }
  if (current.exchanges.length || current.flows.length) chunks.push(current);
  return chunks;
}
