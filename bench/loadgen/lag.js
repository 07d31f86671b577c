// How late this process's own timers run. A generator whose timers lag measures itself, not
// the server, so every worker reports these figures with its results.

import { monitorEventLoopDelay } from 'node:perf_hooks'
import { now } from './client.js'
import { summarize } from './stats.js'

const TICK_MS = 20
const RESOLUTION_MS = 10

export class LagMonitor {
  constructor () {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
    this.tickLateness = []
    this.editLateness = []
    this.timer = null
    this.cpuStart = null
    this.wallStart = null
  }

  start () {
    this.histogram.reset()
    this.histogram.enable()
    this.cpuStart = process.cpuUsage()
    this.wallStart = now()
    let due = now() + TICK_MS
    const tick = () => {
      const t = now()
      // Node timers have 1 ms granularity and may fire a little early: count that as on time.
      this.tickLateness.push(Math.max(0, t - due))
      due += TICK_MS
      // Re-anchor after a long stall instead of firing a burst of catch-up ticks.
      if (due < t) due = t + TICK_MS
      this.timer = setTimeout(tick, due - t)
    }
    this.timer = setTimeout(tick, TICK_MS)
  }

  /** Called with how late (ms) an edit fired after its scheduled time. */
  recordEdit (lateMs) {
    this.editLateness.push(Math.max(0, lateMs))
  }

  stop () {
    clearTimeout(this.timer)
    this.histogram.disable()
    const cpu = process.cpuUsage(this.cpuStart)
    const wall = now() - this.wallStart
    const h = this.histogram
    // Every sample includes the sampling interval itself; report only the delay beyond it.
    const ms = (ns) => Math.max(0, Math.round(ns / 1e4) / 100 - RESOLUTION_MS)
    return {
      eventLoopDelayMs: { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) },
      timerLatenessMs: summarize(this.tickLateness),
      editLatenessMs: summarize(this.editLateness),
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 1000) / 10
    }
  }
}
