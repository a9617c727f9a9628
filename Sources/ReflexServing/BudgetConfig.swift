import ReflexWire
/// The `budget` section: what a step may spend. Live-updatable over the control socket.
public struct BudgetConfig: Sendable, Equatable {
    /// Default `average_fraction: 1.0` (CONTRACT section 4): full depth until told otherwise.
    public var average: BudgetAverage
    /// Per-step cap from receipt to reply, ms; nil = no deadline (the default).
    public var deadlineMs: Double?
    /// Cap on the model's resident memory, MiB; nil = no cap (the default).
    public var memoryMB: Double?

    public init(average: BudgetAverage = .fraction(1.0), deadlineMs: Double? = nil, memoryMB: Double? = nil) {
        self.average = average
        self.deadlineMs = deadlineMs
        self.memoryMB = memoryMB
    }

    /// The budget as the control socket reports it:
    /// `{"average_fraction": 0.4, "deadline_ms": 50, "memory_mb": null}`.
    public var jsonValue: WireJSON {
        var object = JSONObject()
        switch average {
        case .fraction(let value): object["average_fraction"] = Self.json(value)
        case .gflops(let value): object["average_gflops"] = Self.json(value)
        }
        object["deadline_ms"] = Self.json(deadlineMs)
        object["memory_mb"] = Self.json(memoryMB)
        return .object(object)
    }

    private static func json(_ value: Double?) -> WireJSON {
        guard let value, let number = JSONNumber(value) else { return .null }
        return .number(number)
    }
}

extension BudgetConfig: CustomStringConvertible {
    /// The config's own keys, as a log line shows them: `average_fraction=0.4 deadline_ms=50 memory_mb=none`.
    public var description: String {
        let average: String
        switch self.average {
        case .fraction(let f): average = "average_fraction=\(f)"
        case .gflops(let g): average = "average_gflops=\(g)"
        }
        return "\(average) deadline_ms=\(deadlineMs.map { "\($0)" } ?? "none") memory_mb=\(memoryMB.map { "\($0)" } ?? "none")"
    }
}
