import Foundation

/// One frame of `reflexctl top`, made from two `stats` answers (the previous one gives the
/// rates). Plain text lines no wider than `width`; at most `height` of them.
struct TopScreen {
    let stats: [String: Any]
    let previous: [String: Any]?
    /// Seconds between `previous` and `stats`.
    let elapsed: Double
    let width: Int
    let height: Int
    let clock: String
    /// The terminal view: padded to `height` with the key-help footer. `--once` prints the frame
    /// alone (no padding, no footer).
    var interactive = true

    func lines() -> [String] {
        var out: [String] = []
        let steps = int(stats["steps"])
        let rate = previous.map { Double(steps - int($0["steps"])) / max(elapsed, 1e-3) }
        let model = stats["model"] as? String ?? "?"
        let sha = (stats["model_sha256"] as? String).map { String($0.prefix(8)) } ?? ""
        let state = (stats["paused"] as? Bool) == true ? "PAUSED" : "serving"
        out.append("\(clock)  reflexd \(model) \(sha)  \(state)  \(steps) steps  \(rate.map { fmt($0, 1) } ?? "-")/s  "
                   + "\(int(stats["sessions"])) sessions")
        let budget = stats["budget"] as? [String: Any] ?? [:]
        let target = (budget["average_fraction"] as? Double).map { fmt($0, 2) }
            ?? (budget["average_gflops"] as? Double).map { "\(fmt($0, 3)) GFLOP" } ?? "-"
        let deadline = budget["deadline_ms"] as? Double
        let memory = (budget["memory_mb"] as? Double).map { "\(fmt($0, 0)) MiB" } ?? "none"
        out.append("budget  target \(target)  realised \((stats["mean_fraction"] as? Double).map { fmt($0, 2) } ?? "-") "
                   + "(\(int(stats["window_steps"])) steps)  deadline \(deadline.map { "\(fmt($0, 1)) ms" } ?? "none")  memory \(memory)")
        let thresholds = (stats["thresholds"] as? [Any] ?? []).enumerated().map { i, t in
            "e\(i + 1) " + ((t as? Double).map { fmt($0, 4) } ?? "-")
        }
        out.append("thresholds  " + thresholds.joined(separator: "  "))
        let latency = stats["latency_us"] as? [String: Any] ?? [:]
        out.append("latency ms  p50 \(ms(latency["p50"]))  p99 \(ms(latency["p99"]))  max \(ms(latency["max"]))   "
                   + "misses \(int(stats["deadline_misses"]))  probes \(int(stats["probes"]))")
        let errors = (stats["errors"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \(int($0.value))" }
        out.append("errors  " + (errors.isEmpty ? "none" : errors.joined(separator: "  ")))
        // The exit histogram since start, one bar per exit.
        let histogram = (stats["exit_histogram"] as? [Any] ?? []).map { int($0) }
        let total = max(1, histogram.reduce(0, +))
        let barWidth = max(10, width - 24)
        out.append("exits since start")
        for (i, n) in histogram.enumerated() {
            let bar = String(repeating: "#", count: Int((Double(n) / Double(total) * Double(barWidth)).rounded()))
            out.append(pad("  \(i + 1)", 5) + " " + pad(bar, barWidth) + " " + lpad("\(Int((Double(n) * 100 / Double(total)).rounded()))%", 4)
                       + " " + lpad("\(n)", 8))
        }
        out.append("")
        out.append(pad("ROBOT", 20) + lpad("STEP/S", 8) + lpad("EXIT", 6) + "  " + pad("REASON", 10) + lpad("P50 ms", 8) + lpad("P99 ms", 8)
                   + lpad("MISSES", 8))
        let robots = (stats["robots"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
        let before = previous?["robots"] as? [String: Any] ?? [:]
        let room = max(0, height - out.count - (interactive ? 1 : 0))
        for (i, (robot, value)) in robots.enumerated() {
            if i == room - 1 && robots.count > room {
                out.append("  … \(robots.count - i) more robots")
                break
            }
            guard i < room, let r = value as? [String: Any] else { break }
            let lat = r["latency_us"] as? [String: Any] ?? [:]
            let rate = (before[robot] as? [String: Any]).map { Double(int(r["steps"]) - int($0["steps"])) / max(elapsed, 1e-3) }
            let p99 = Double(int(lat["p99"])) / 1000
            let late = deadline.map { p99 > $0 } ?? false
            out.append(pad(robot, 20) + lpad(rate.map { fmt($0, 1) } ?? "-", 8) + lpad(fmt(r["mean_exit"] as? Double ?? 0, 2), 6) + "  "
                       + pad(r["last_reason"] as? String ?? "-", 10) + lpad(ms(lat["p50"]), 8) + lpad(ms(lat["p99"]) + (late ? "!" : " "), 8)
                       + lpad("\(int(r["deadline_misses"]))", 8))
        }
        if interactive {
            while out.count < height - 1 { out.append("") }
            out.append("q quits · p99 marked ! when past the deadline · refreshed every second")
        }
        return out.prefix(height).map { String($0.prefix(width)) }
    }

    private func int(_ v: Any?) -> Int { (v as? Int) ?? (v as? Double).map { Int($0) } ?? 0 }
    private func ms(_ us: Any?) -> String { fmt(Double(int(us)) / 1000, 2) }
    private func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? String(s.prefix(n)) : s + String(repeating: " ", count: n - s.count) }
    private func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
}
