import ReflexEngine
import ReflexScheduler

/// The scheduler, as serving uses it: the threshold controller (average budget, probes),
/// the deadline guard and the memory planner, built from the model's cost model and
/// calibration data and a budget from the config or the control socket.
package struct BudgetPlanner {
    package private(set) var controller: ThresholdController?
    package var deadlineGuard: DeadlineGuard
    package let memory: MemoryPlanner
    package private(set) var budget: BudgetConfig
    package let costs: [Double]
    package let configuration: ThresholdController.Configuration

    package init(cost: CostModel, calibration: [[Float]], budget: BudgetConfig, scheduler: SchedulerConfig) throws {
        costs = cost.exitGFLOPs
        memory = try MemoryPlanner(residentBytes: cost.residentBytes)
        deadlineGuard = try DeadlineGuard(costs: costs)
        configuration = .init(mode: scheduler.mode == .online ? .online : .fixed,
                              window: scheduler.window, probeRate: scheduler.probeRate)
        let b = try Self.schedulerBudget(budget)
        let loaded = try memory.loadedExits(memoryMB: budget.memoryMB)
        if calibration.isEmpty {
            // Without calibration data no thresholds can be solved: only full depth is possible.
            guard try b.targetGFLOPs(costs: costs) >= costs[loaded - 1] else {
                throw SchedulerError.invalidCalibration("the model has no calibration data, so only an average budget of its full depth can be met")
            }
            controller = nil
        } else {
            controller = try ThresholdController(costs: costs, calibration: calibration, budget: b,
                                                 loadedExits: loaded, configuration: configuration)
        }
        self.budget = budget
    }

    static func schedulerBudget(_ b: BudgetConfig) throws -> Budget {
        switch b.average {
        case .fraction(let f): return try Budget(average: .fraction(f), deadlineMs: b.deadlineMs, memoryMB: b.memoryMB)
        case .gflops(let g): return try Budget(average: .gflops(g), deadlineMs: b.deadlineMs, memoryMB: b.memoryMB)
        }
    }

    /// How many exits the memory cap allows to be loaded.
    package var loadedExits: Int { (try? memory.loadedExits(memoryMB: budget.memoryMB)) ?? costs.count }

    /// Checks and applies a new budget; returns the loaded depth it implies.
    @discardableResult
    package mutating func apply(_ newBudget: BudgetConfig) throws -> Int {
        let b = try Self.schedulerBudget(newBudget)
        let loaded = try memory.loadedExits(memoryMB: newBudget.memoryMB)
        if var c = controller {
            try c.setBudget(b, loadedExits: loaded)
            controller = c
        } else if try b.targetGFLOPs(costs: costs) < costs[loaded - 1] {
            throw SchedulerError.invalidCalibration("the model has no calibration data, so only an average budget of its full depth can be met")
        }
        budget = newBudget
        return loaded
    }

    /// Thresholds for the next step and whether it runs as a probe (vetoed when the deadline
    /// leaves no room for a full-depth run).
    package mutating func plan(elapsedUs: Double, deadlineUs: Double?) -> (ExitThresholds, Bool) {
        guard var c = controller else { return (.fullDepth(exits: costs.count), false) }
        let p = c.plan()
        controller = c
        var probe = p.probe
        if probe, let d = deadlineUs,
           deadlineGuard.predictedFinishUs(afterExit: 0, throughExit: loadedExits, elapsedUs: elapsedUs) > d {
            probe = false
        }
        return (p.thresholds, probe)
    }

    package mutating func observe(exit: Int, distances: ArraySlice<Float>, probe: Bool, gflops: Double) {
        controller?.observe(exit: exit, distances: Array(distances), probe: probe, gflops: gflops)
    }

    /// One entry per exit of the model (null past the loaded ones: they never answer).
    package var thresholds: [Double?] {
        let t = controller?.thresholds.reportable ?? ExitThresholds.fullDepth(exits: costs.count).reportable
        return t + Array(repeating: nil, count: max(0, costs.count - t.count))
    }
    /// The average target as a fraction of the full-depth cost (whichever way the budget says it).
    package var targetFraction: Double {
        switch budget.average {
        case .fraction(let f): return f
        case .gflops(let g): return g / costs[costs.count - 1]
        }
    }
    package var meanGFLOPs: Double? { controller?.meanGFLOPs }
    package var meanFraction: Double? { controller?.meanFraction }
    package var windowSteps: Int { controller?.stepsInWindow ?? 0 }
}
