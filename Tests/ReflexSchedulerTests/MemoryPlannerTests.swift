import Testing
@testable import ReflexScheduler

@Suite struct MemoryPlannerTests {
    let mib = 1_048_576
    var planner: MemoryPlanner { try! MemoryPlanner(residentBytes: [3 * mib, 4 * mib, 5 * mib, 6 * mib]) }

    @Test func noCapLoadsEveryExit() throws {
        #expect(try planner.loadedExits(memoryMB: nil) == 4)
    }

    @Test func theLoadedDepthNeverExceedsTheCap() throws {
        for tenth in 30...80 {
            let cap = Double(tenth) / 10
            let loaded = try planner.loadedExits(memoryMB: cap)
            #expect(Double(planner.residentBytes[loaded - 1]) <= cap * Double(mib))
            if loaded < 4 { #expect(Double(planner.residentBytes[loaded]) > cap * Double(mib)) }
        }
    }

    @Test func changingTheCapMovesTheLastExit() throws {
        #expect(try planner.loadedExits(memoryMB: 4.5) == 2)
        #expect(try planner.loadedExits(memoryMB: 5) == 3)  // exactly 5 MiB fits exit 3
        #expect(try planner.loadedExits(memoryMB: 3.999) == 1)
        #expect(try planner.loadedExits(memoryMB: 64) == 4)
    }

    @Test func aCapBelowExitOneIsAClearError() {
        let error = #expect(throws: SchedulerError.self) { try planner.loadedExits(memoryMB: 2.5) }
        #expect(error == .memoryTooSmall(capMB: 2.5, firstExitBytes: 3 * mib))
        #expect(error?.description == "memory_mb 2.5 MiB cannot hold exit 1, which needs 3145728 bytes (3.0 MiB)")
    }

    @Test func decreasingBytesAreRejected() {
        #expect(throws: SchedulerError.self) { try MemoryPlanner(residentBytes: [5, 4]) }
    }
}
