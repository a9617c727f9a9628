/// Chooses the exit thresholds of every step so that the mean cost over the window meets the
/// average budget.
///
/// - `.fixed` is DeeR's behaviour: thresholds solved from the calibration set whenever the budget
///   is set, never changed by what the robot sees.
/// - `.online` follows the distribution the robot really sees, in three parts:
///   1. Shape: every `resolveEvery` steps the thresholds are re-solved (`BudgetSolver`) from the
///      window's probes — steps run to full depth at random, the only unbiased complete samples,
///      since an early exit hides the deeper distances — plus the calibration set as a prior worth
///      n0²/(n0 + probes in window) samples (n0 = 16): it dominates while the window holds few
///      probes and fades as they accumulate.
///   2. Window: the cost rate that would bring the window's mean (over the steps since the budget
///      was set) to the target within `horizon` steps, counting exactly which old steps leave the
///      window meanwhile. This pays back an overshoot instead of merely stopping it.
///   3. Bias: an integral term on (rate aimed at − rate realised) by the non-probe steps of the last
///      block, added to the solver's target; it absorbs whatever the samples still get wrong.
///   Probes are paid from the budget: the solver aims the non-probe steps at
///   (rate − p·full)/(1 − p).
public struct ThresholdController: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case online, fixed
    }

    public struct Configuration: Sendable, Equatable {
        public var mode: Mode
        /// Steps the realised mean and the online solver look back over.
        public var window: Int
        /// Share of steps run to full depth as probes (online only).
        public var probeRate: Double
        /// Steps between re-solves (online only).
        public var resolveEvery: Int
        /// Seed of the probe draws: same seed, same observations → same decisions.
        public var seed: UInt64

        public init(mode: Mode = .online, window: Int = 512, probeRate: Double = 0.02,
                    resolveEvery: Int = 16, seed: UInt64 = 0x5EED) {
            self.mode = mode
            self.window = window
            self.probeRate = probeRate
            self.resolveEvery = resolveEvery
            self.seed = seed
        }
    }

    /// What the caller needs for one step.
    public struct Plan: Sendable, Equatable {
        public let thresholds: ExitThresholds
        /// Run to the last loaded exit whatever the thresholds say. The caller may veto it
        /// (deadline); it then reports the step with `probe: false`.
        public let probe: Bool
    }

    /// Tuned by simulation (window 512, probe rate 0.02; see Tests/ReflexSchedulerTests): the
    /// calibration prior's worth in samples, the integral gain, and the window payback horizon
    /// (horizon = window / horizonDivisor, at least `resolveEvery`).
    static let priorSamples = 16.0
    static let gain = 0.5
    static let horizonDivisor = 8

    public let configuration: Configuration
    public let costs: [Double]
    public private(set) var budget: Budget
    public private(set) var targetGFLOPs: Double
    public private(set) var loadedExits: Int
    public private(set) var thresholds: ExitThresholds
    /// The last solve: expected exit shares on its samples, λ.
    public private(set) var solution: BudgetSolver.Solution
    /// The target the solver was last given (non-probe steps, after feedback).
    public private(set) var solverTargetGFLOPs: Double
    /// Steps observed since start, and answers per exit since start (`exitHistogram[i]`: exit i+1).
    public private(set) var steps = 0
    public private(set) var exitHistogram: [Int]
    /// Probes run since start.
    public private(set) var probes = 0

    private let solver: BudgetSolver
    private let calibration: SampleSet
    private var window: StepWindow
    private var rng: SplitMix64
    private var correction = 0.0
    private var blockAim = 0.0, blockSum = 0.0, blockCount = 0
    private var stepsSinceBudget = 0, stepsSinceResolve = 0

    /// `calibration[n][i]`: sample n's distance at exit i+1 (N × exits). `loadedExits` nil = all.
    public init(costs: [Double], calibration: [[Float]], budget: Budget, loadedExits: Int? = nil,
                configuration: Configuration = .init()) throws {
        guard configuration.window >= 1, configuration.resolveEvery >= 1,
              configuration.probeRate >= 0, configuration.probeRate < 1 else {
            throw SchedulerError.invalidConfiguration(
                "window and resolveEvery must be ≥ 1 and probe_rate in [0, 1): \(configuration)")
        }
        solver = try BudgetSolver(costs: costs)
        if costs.count > 1 && calibration.isEmpty {
            throw SchedulerError.invalidCalibration("no samples")
        }
        self.configuration = configuration
        self.costs = costs
        self.calibration = try SampleSet(rows: calibration, columns: costs.count - 1)
        self.budget = budget
        window = StepWindow(capacity: configuration.window)
        rng = SplitMix64(seed: configuration.seed)
        exitHistogram = Array(repeating: 0, count: costs.count)
        targetGFLOPs = costs[costs.count - 1]
        self.loadedExits = costs.count
        thresholds = .fullDepth(exits: costs.count)
        solution = try solver.solve(targetGFLOPs: targetGFLOPs, set: self.calibration, exits: nil)
        solverTargetGFLOPs = targetGFLOPs
        try setBudget(budget, loadedExits: loadedExits)
    }

    // MARK: reporting

    public var stepsInWindow: Int { window.count }
    public var probesInWindow: Int { window.probes.count }
    /// Realised mean cost per step over the window (0 before the first step).
    public var meanGFLOPs: Double { window.count == 0 ? 0 : window.sum / Double(window.count) }
    /// `meanGFLOPs` as a share of the full model's cost (all exits, loaded or not).
    public var meanFraction: Double { meanGFLOPs / costs[costs.count - 1] }

    /// The share of steps drawn as probes now: none in fixed mode or at full depth, and never more
    /// than half the budget's headroom above exit 1, so probes alone cannot break the budget.
    public var probeShare: Double {
        let first = costs[0], full = costs[loadedExits - 1]
        guard configuration.mode == .online, targetGFLOPs < full, loadedExits > 1 else { return 0 }
        return min(configuration.probeRate, 0.5 * (targetGFLOPs - first) / (full - first))
    }

    // MARK: driving

    /// Applies a new budget (and the loaded depth the memory cap allows) from the next step on.
    /// The window's mean is aimed at the target over the steps since this call; the feedback term
    /// is kept, since the gap between samples and reality it learnt does not depend on the target.
    public mutating func setBudget(_ budget: Budget, loadedExits: Int? = nil) throws {
        let k = loadedExits ?? costs.count
        guard k >= 1 && k <= costs.count else {
            throw SchedulerError.invalidConfiguration("loaded exits \(k) outside 1...\(costs.count)")
        }
        let target = try budget.targetGFLOPs(costs: costs)
        self.budget = budget
        targetGFLOPs = target
        self.loadedExits = k
        stepsSinceBudget = 0
        blockSum = 0
        blockCount = 0
        try adapt()
    }

    /// The thresholds for the next step, and whether it is a probe.
    public mutating func plan() -> Plan {
        let p = probeShare
        let probe = p > 0 && rng.nextUnit() < p
        return Plan(thresholds: thresholds, probe: probe)
    }

    /// Reports a finished step: the exit that answered (1-based), the distances it measured (a
    /// prefix: exits not reached are unknown; complete to the last loaded exit on a probe), whether
    /// it ran as a probe, and the GFLOPs it spent. Steps with an exit outside 1...exits or a
    /// non-finite cost are ignored.
    public mutating func observe(exit: Int, distances: [Float], probe: Bool, gflops: Double) {
        guard exit >= 1 && exit <= costs.count, gflops.isFinite, gflops >= 0 else { return }
        steps += 1
        exitHistogram[exit - 1] += 1
        if probe { probes += 1 }
        let needed = loadedExits - 1
        let complete = probe && distances.count >= needed
            && distances.prefix(needed).allSatisfy { $0.isFinite && $0 >= 0 }
        window.append(cost: gflops, step: steps, probe: complete ? distances : nil)
        if !probe {
            blockSum += gflops
            blockCount += 1
        }
        stepsSinceBudget += 1
        stepsSinceResolve += 1
        if configuration.mode == .online && stepsSinceResolve >= configuration.resolveEvery {
            try? adapt()  // cannot fail: the budget and samples were validated when set
        }
    }

    // MARK: solving

    private mutating func adapt() throws {
        stepsSinceResolve = 0
        window.resum()
        let first = costs[0], full = costs[loadedExits - 1]
        guard configuration.mode == .online, targetGFLOPs < full else {
            try resolve(target: min(targetGFLOPs, full), samples: calibration)
            return
        }
        let p = probeShare
        let aim = (windowRate() - p * full) / (1 - p)
        let desired = min(max(aim, first), full)
        if blockCount > 0 {
            // Bounded by the cost span so it cannot wind up while the target saturates; not reset
            // when the aim saturates, since the gap it learnt is still there.
            let span = full - first
            correction = min(max(correction + Self.gain * (blockAim - blockSum / Double(blockCount)), -span), span)
        }
        let target = min(max(desired + correction, first), full)
        blockAim = desired
        blockSum = 0
        blockCount = 0

        let usable = window.probes.filter { $0.distances.count >= loadedExits - 1 }.map(\.distances)
        let probeSet = try SampleSet(rows: usable, columns: loadedExits - 1)
        var prior = calibration
        let priorWeight = Self.priorSamples * Self.priorSamples / (Self.priorSamples + Double(usable.count))
        prior.weights = Array(repeating: priorWeight / Double(prior.count), count: prior.count)
        try resolve(target: target, samples: prior.merged(with: probeSet))
    }

    /// The mean cost per step over the next `horizon` steps that brings the window's mean, counted
    /// over the steps since the budget was set, to the target.
    private func windowRate() -> Double {
        let capacity = configuration.window
        let horizon = max(configuration.resolveEvery, capacity / Self.horizonDivisor)
        let n = min(window.count, stepsSinceBudget)
        let skipped = window.count - n
        let recent = window.sum - window.sumOfOldest(skipped)
        let leaving = max(0, n + horizon - capacity)
        let leavingSum = window.sumOfOldest(skipped + leaving) - window.sumOfOldest(skipped)
        let after = min(n + horizon, capacity)
        return (targetGFLOPs * Double(after) - (recent - leavingSum)) / Double(horizon)
    }

    private mutating func resolve(target: Double, samples: SampleSet) throws {
        solution = try solver.solve(targetGFLOPs: target, set: samples, exits: loadedExits)
        thresholds = solution.thresholds
        solverTargetGFLOPs = target
    }
}
