/// What an operator asks of every step (CONTRACT section 4): an average compute target, and
/// optionally a per-step deadline and a cap on the model's resident memory.
public struct Budget: Sendable, Equatable {
    /// The mean compute per step over the window: a share of the full-depth cost, or GFLOPs.
    public enum Average: Sendable, Equatable {
        case fraction(Double)
        case gflops(Double)
    }

    public let average: Average
    /// Per-step cap from receipt to reply, milliseconds; nil = none.
    public let deadlineMs: Double?
    /// Cap on resident model memory, MiB (fractions allowed); nil = none.
    public let memoryMB: Double?

    public init(average: Average = .fraction(1), deadlineMs: Double? = nil, memoryMB: Double? = nil) throws {
        switch average {
        case .fraction(let x) where !(x.isFinite && x > 0):
            throw SchedulerError.invalidBudget("average_fraction must be a positive number, got \(x)")
        case .gflops(let x) where !(x.isFinite && x > 0):
            throw SchedulerError.invalidBudget("average_gflops must be a positive number, got \(x)")
        default: break
        }
        if let d = deadlineMs, !(d.isFinite && d > 0) {
            throw SchedulerError.invalidBudget("deadline_ms must be a positive number, got \(d)")
        }
        if let m = memoryMB, !(m.isFinite && m > 0) {
            throw SchedulerError.invalidBudget("memory_mb must be a positive number, got \(m)")
        }
        self.average = average
        self.deadlineMs = deadlineMs
        self.memoryMB = memoryMB
    }

    /// The config's shape: at most one of the two average keys; neither means `average_fraction: 1.0`.
    public init(averageFraction: Double? = nil, averageGFLOPs: Double? = nil,
                deadlineMs: Double? = nil, memoryMB: Double? = nil) throws {
        let average: Average
        switch (averageFraction, averageGFLOPs) {
        case (nil, nil): average = .fraction(1)
        case (let f?, nil): average = .fraction(f)
        case (nil, let g?): average = .gflops(g)
        case (_?, _?):
            throw SchedulerError.invalidBudget("give average_fraction or average_gflops, not both")
        }
        try self.init(average: average, deadlineMs: deadlineMs, memoryMB: memoryMB)
    }

    /// The average target in GFLOPs for a model whose exit i+1 costs `costs[i]`; throws
    /// `.infeasible` when it is below exit 1's cost. A target above the full cost is allowed
    /// (it just means full depth).
    public func targetGFLOPs(costs: [Double]) throws -> Double {
        guard let first = costs.first, let full = costs.last else {
            throw SchedulerError.invalidCosts("no exits")
        }
        let target: Double
        switch average {
        case .fraction(let x): target = x * full
        case .gflops(let x): target = x
        }
        // A hair of tolerance so that `average_fraction` = exit 1's own fraction is feasible.
        if target < first * (1 - 1e-12) {
            throw SchedulerError.infeasible(target: target, minimum: first, fullCost: full)
        }
        return target
    }
}
