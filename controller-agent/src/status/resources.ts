/** CPU (cores, averaged since the previous call) and memory of this process. */
export class ProcessSampler {
  private lastCpu = process.cpuUsage();
  private lastAt = process.hrtime.bigint();

  sample(): { cpuCores: number; rssBytes: number; heapUsedBytes: number } {
    const cpu = process.cpuUsage();
    const at = process.hrtime.bigint();
    const usedMicros =
      cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    const elapsedMicros = Number(at - this.lastAt) / 1000;
    this.lastCpu = cpu;
    this.lastAt = at;
    const mem = process.memoryUsage();
    return {
      cpuCores:
        elapsedMicros > 0
          ? Math.round((usedMicros / elapsedMicros) * 1000) / 1000
          : 0,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
    };
  }
}
