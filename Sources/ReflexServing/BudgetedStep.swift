import ReflexEngine
import ReflexScheduler
import ReflexWire

/// One step under the budget: the scheduler's plan, the stop rule, the engine, and the
/// scheduler's feedback. The serving loop and `reflexctl bench scheduler` both step through here.
package enum BudgetedStep {
    package struct Outcome {
        package let reason: ExitReason
        package let probe: Bool
        /// The thresholds the stop rule used (for the trace).
        package let thresholds: ExitThresholds
        /// When the engine finished.
        package let inferEnd: UInt64
    }

    /// Runs `model` on one observation; the action is in `model.output`, the candidate recurrent
    /// state in `recurrent` (the caller commits it only if the action is usable). `receipt` and
    /// `start` are readings of `clock`, which also times the segments for the deadline guard.
    package static func run(model: LoadedModel, planner: inout BudgetPlanner, observation: Observation,
                            recurrent: inout RecurrentState, receipt: UInt64, start: UInt64, deadlineUs: Double?,
                            clock: any ServingClock) throws -> Outcome {
        let (thresholds, probe) = planner.plan(elapsedUs: clock.microseconds(from: receipt, to: start), deadlineUs: deadlineUs)
        var rule = ServingStopRule(thresholds: thresholds, probe: probe, deadlineUs: deadlineUs, receipt: receipt,
                                   start: start, totalExits: model.exits, deadlineGuard: planner.deadlineGuard, clock: clock)
        try model.policy.step(observation, state: &recurrent, rule: &rule, workspace: model.workspace, output: &model.output)
        let end = clock.now()
        planner.deadlineGuard = rule.deadlineGuard
        let out = model.output
        planner.observe(exit: out.exit, distances: out.distances[0..<out.exit], probe: probe, gflops: Double(out.flops) / 1e9)
        return Outcome(reason: rule.reason, probe: probe, thresholds: thresholds, inferEnd: end)
    }
}
