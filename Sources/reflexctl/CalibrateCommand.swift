import ArgumentParser
import Foundation
import ReflexDaemon
import ReflexTools
import ReflexEngine
import ReflexScheduler

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Thresholds solved for an average budget from the bundle's calibration data, with expected exit shares and mean cost.")

    @Argument(help: "Model bundle directory.") var model: String
    @Option(help: "Target mean compute, fraction of the full-depth cost.") var averageFraction: Double?
    @Option(help: "Target mean compute, GFLOPs.") var averageGflops: Double?
    @Option(help: "Load only this many exits (as a memory cap would).") var exits: Int?
    @Flag(help: "Print one JSON object.") var json = false

    /// The config's and the live budget's own ranges (ConfigRules), not only the solver's.
    func validate() throws {
        for (flag, value, rule) in [("--average-fraction", averageFraction, ConfigRules.averageFraction),
                                    ("--average-gflops", averageGflops, ConfigRules.averageGflops)] {
            if let value, !rule.accepts(value) { throw ValidationError("\(flag) \(rule.requirement), got \(value)") }
        }
    }

    func run() throws {
        let bundle = try ModelBundle(directory: model)
        guard !bundle.calibration.isEmpty else { throw ValidationError("\(model) has no calibration data") }
        let costs = bundle.cost.exitGFLOPs
        let budget = try Budget(averageFraction: averageFraction ?? (averageGflops == nil ? 1 : nil), averageGFLOPs: averageGflops)
        let target = try budget.targetGFLOPs(costs: costs)
        let solution = try BudgetSolver(costs: costs).solve(targetGFLOPs: target, samples: bundle.calibration, exits: exits)
        let full = costs[(exits ?? costs.count) - 1]
        if json {
            printJSON([
                "target_gflops": target, "expected_gflops": solution.expectedGFLOPs,
                "expected_fraction": solution.expectedGFLOPs / costs.last!, "lambda": solution.lambda,
                "thresholds": solution.thresholds.reportable.map { $0 as Any? ?? NSNull() },
                "exit_shares": solution.exitShares, "exit_gflops": costs, "samples": bundle.calibration.count,
            ])
            return
        }
        print(String(format: "target %.4f GFLOPs (%.3f of full depth), %d calibration samples", target, target / costs.last!, bundle.calibration.count))
        print("exit  GFLOPs    threshold    share")
        for (i, share) in solution.exitShares.enumerated() {
            let eta = solution.thresholds.reportable[i].map { String(format: "%10.5f", $0) } ?? "         -"
            print(String(format: "%4d  %8.4f  ", i + 1, costs[i]) + eta + String(format: "  %6.1f%%", share * 100))
        }
        print(String(format: "expected mean %.4f GFLOPs = %.3f of full depth (λ = %.3g)", solution.expectedGFLOPs,
                     solution.expectedGFLOPs / full, solution.lambda))
    }
}
