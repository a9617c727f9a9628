import Testing
@testable import ReflexScheduler

@Suite struct BudgetTests {
    let costs = [1.0, 2.0, 4.0]

    @Test func neitherAverageKeyMeansTheFullFraction() throws {
        #expect(try Budget().average == .fraction(1))
        #expect(try Budget().targetGFLOPs(costs: costs) == 4)
    }

    @Test func bothAverageKeysAreRejected() {
        #expect(throws: SchedulerError.invalidBudget("give average_fraction or average_gflops, not both")) {
            try Budget(averageFraction: 0.5, averageGFLOPs: 2)
        }
    }

    @Test func nonPositiveValuesAreRejected() {
        #expect(throws: SchedulerError.self) { try Budget(averageFraction: 0) }
        #expect(throws: SchedulerError.self) { try Budget(averageGFLOPs: .nan) }
        #expect(throws: SchedulerError.self) { try Budget(averageFraction: 0.5, deadlineMs: -1) }
        #expect(throws: SchedulerError.self) { try Budget(averageFraction: 0.5, memoryMB: 0) }
    }

    @Test func fractionAndGFLOPsGiveTheSameTarget() throws {
        #expect(try Budget(averageFraction: 0.5).targetGFLOPs(costs: costs) == 2)
        #expect(try Budget(averageGFLOPs: 2).targetGFLOPs(costs: costs) == 2)
    }

    @Test func exitOnesOwnCostIsFeasible() throws {
        #expect(try Budget(averageFraction: 0.25).targetGFLOPs(costs: costs) == 1)
    }

    @Test func belowExitOneIsInfeasibleWithAClearMessage() throws {
        let error = #expect(throws: SchedulerError.self) {
            try Budget(averageFraction: 0.2).targetGFLOPs(costs: costs)
        }
        #expect(error == .infeasible(target: 0.8, minimum: 1, fullCost: 4))
        let message = error?.description ?? ""
        #expect(message.contains("below the cost of exit 1"))
        #expect(message.contains("average_fraction to at least 0.25"))
    }

    @Test func theSuggestedMinimumIsItselfFeasible() throws {
        let error = #expect(throws: SchedulerError.self) {
            try Budget(averageFraction: 0.1).targetGFLOPs(costs: Simulation.costs)
        }
        #expect(error?.description.contains("average_fraction to at least 0.2728 ") == true)
        #expect(try Budget(averageFraction: 0.2728).targetGFLOPs(costs: Simulation.costs) >= 0.3)
    }
}
