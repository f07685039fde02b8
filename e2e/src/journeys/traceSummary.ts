/**
 * What a Chromium performance trace (DevTools' format, as `browser.startTracing` writes
 * it) says about the longest frames of the page's main thread: how long each frame was,
 * how much of it the main thread ran tasks, how much of that was CPU time (wall time
 * beyond it means the thread waited for a core: the machine, not the page), and what
 * the time went to (self time by trace event, and the JavaScript functions sampled).
 */

interface TraceEvent {
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  ph: string;
  name: string;
  cat?: string;
  args?: any;
}

/** Categories for {@link summarizeTrace}: the DevTools timeline with JS samples. */
export const TRACE_CATEGORIES = [
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'disabled-by-default-devtools.timeline.frame',
  'toplevel',
  'v8.execute',
  'blink.user_timing',
  'disabled-by-default-v8.cpu_profiler',
];

const TOP_LEVEL = new Set(['RunTask', 'ThreadControllerImpl::RunTask']);

export interface FrameSummary {
  /** Wall time from this animation frame's callbacks to the next one's. */
  frameMs: number;
  /** Wall time the main thread ran tasks in the frame. */
  tasksMs: number;
  /** CPU time of those tasks (less than tasksMs when the thread waited for a core). */
  tasksCpuMs: number;
  /** Self time by trace event name, largest first. */
  selfMs: Array<[string, number]>;
  /** JavaScript self time by function (name url:line:col), largest first. */
  jsMs: Array<[string, number]>;
}

const round = (x: number) => Math.round(x * 10) / 10;

function top(m: Map<string, number>, n: number): Array<[string, number]> {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => [k, round(v / 1000)]);
}

/** The `n` longest frames of the busiest renderer main thread of a trace. */
export function summarizeTrace(
  trace: { traceEvents: TraceEvent[] } | TraceEvent[],
  n = 3,
): FrameSummary[] {
  const events = Array.isArray(trace) ? trace : trace.traceEvents;
  const mains = new Set<string>();
  for (const e of events)
    if (
      e.ph === 'M' &&
      e.name === 'thread_name' &&
      e.args?.name === 'CrRendererMain'
    )
      mains.add(`${e.pid}:${e.tid}`);
  // The page's renderer: the main thread that ran the most animation frames.
  const rafs = new Map<string, number[]>();
  for (const e of events) {
    const key = `${e.pid}:${e.tid}`;
    if (e.name === 'FireAnimationFrame' && e.ph === 'X' && mains.has(key))
      rafs.set(key, [...(rafs.get(key) ?? []), e.ts]);
  }
  const [main, frameStarts] = [...rafs.entries()].sort(
    (a, b) => b[1].length - a[1].length,
  )[0] ?? ['', []];
  if (!main) return [];
  const onMain = events
    .filter(e => `${e.pid}:${e.tid}` === main && e.ph === 'X' && e.dur)
    .sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));

  // Self time of every event (its time minus its children's), by nesting on the thread.
  const self: Array<{ e: TraceEvent; self: number }> = [];
  const stack: Array<{ e: TraceEvent; self: number }> = [];
  for (const e of onMain) {
    while (
      stack.length &&
      stack[stack.length - 1].e.ts + (stack[stack.length - 1].e.dur ?? 0) <=
        e.ts
    )
      stack.pop();
    const parent = stack[stack.length - 1];
    if (parent) parent.self -= e.dur ?? 0;
    const item = { e, self: e.dur ?? 0 };
    self.push(item);
    stack.push(item);
  }

  // JS samples (ProfileChunk events of the thread's profile).
  const nodes = new Map<number, string>();
  const samples: Array<{ ts: number; fn: string }> = [];
  let sampleTs = 0;
  for (const e of events) {
    if (e.name !== 'ProfileChunk' || `${e.pid}:${e.tid}` !== main) continue;
    const p = e.args?.data?.cpuProfile;
    for (const node of p?.nodes ?? []) {
      const f = node.callFrame ?? {};
      const url = String(f.url ?? '')
        .split('/')
        .pop();
      nodes.set(
        node.id,
        `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber}:${
          f.columnNumber
        }`,
      );
    }
    const deltas: number[] = e.args?.data?.timeDeltas ?? [];
    const ids: number[] = p?.samples ?? [];
    for (let i = 0; i < ids.length; i++) {
      sampleTs += deltas[i] ?? 0;
      samples.push({ ts: sampleTs, fn: nodes.get(ids[i]) ?? String(ids[i]) });
    }
  }
  // ProfileChunk timestamps count from the profile's start: line them up with the trace.
  const profile = events.find(
    e => e.name === 'Profile' && `${e.pid}:${e.tid}` === main,
  );
  const sampleBase = profile?.args?.data?.startTime ?? 0;

  const frames: Array<{ start: number; end: number }> = [];
  for (let i = 1; i < frameStarts.length; i++)
    frames.push({ start: frameStarts[i - 1], end: frameStarts[i] });
  frames.sort((a, b) => b.end - b.start - (a.end - a.start));
  return frames.slice(0, n).map(f => {
    let tasks = 0;
    let cpu = 0;
    const byName = new Map<string, number>();
    for (const { e, self: s } of self) {
      const end = e.ts + (e.dur ?? 0);
      if (end <= f.start || e.ts >= f.end) continue;
      const part = Math.min(end, f.end) - Math.max(e.ts, f.start);
      if (TOP_LEVEL.has(e.name)) {
        tasks += part;
        cpu += (e.tdur ?? e.dur ?? 0) * (part / (e.dur || 1));
      }
      byName.set(e.name, (byName.get(e.name) ?? 0) + s * (part / (e.dur || 1)));
    }
    const js = new Map<string, number>();
    for (let i = 1; i < samples.length; i++) {
      const ts = sampleBase + samples[i].ts;
      if (ts < f.start || ts >= f.end) continue;
      const d = samples[i].ts - samples[i - 1].ts;
      js.set(samples[i].fn, (js.get(samples[i].fn) ?? 0) + d);
    }
    for (const idle of ['(idle)', '(program)', '(garbage collector)'])
      for (const k of [...js.keys()]) if (k.startsWith(idle)) js.delete(k);
    return {
      frameMs: round((f.end - f.start) / 1000),
      tasksMs: round(tasks / 1000),
      tasksCpuMs: round(cpu / 1000),
      selfMs: top(byName, 6),
      jsMs: top(js, 6),
    };
  });
}

/** One line per frame for the bench's report. */
export const frameLines = (frames: FrameSummary[]) =>
  frames.map(
    f =>
      `${f.frameMs} ms frame: main thread ran tasks ${f.tasksMs} ms (CPU ${
        f.tasksCpuMs
      } ms); self: ${f.selfMs.map(([k, v]) => `${k} ${v}`).join(', ')}; JS: ${
        f.jsMs.map(([k, v]) => `${k} ${v}`).join(', ') || 'none sampled'
      }`,
  );
