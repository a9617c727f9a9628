import Testing

@testable import ReflexServing

/// The core reads time only from the clock it is handed: reply timings, deadlines and the
/// deadline guard's measurements all follow a manual clock exactly.
@Suite struct ServingClockTests {
    typealias H = ServingHarness

    @Test func aManualClockMovesOnlyWhenAdvanced() {
        let clock = ManualClock(nanoseconds: 5)
        #expect(clock.now() == 5 && clock.now() == 5)
        clock.advance(by: 10)
        clock.advance(seconds: 0.5)
        #expect(clock.now() == 500_000_015)
        #expect(clock.microseconds(from: 15, to: 2_015) == 2)
    }

    @Test func theReplysTimingsAreTheInjectedClocks() throws {
        let (core, outbox, clock) = try H.core()
        core.receive(H.step("arm-1", seq: 1))
        clock.advance(by: 2_000_000)  // 2 ms in the queue; the engine takes no time on this clock
        core.serveNext()
        let served = try #require(outbox.served.first)
        let reply = try #require(outbox.takeReplies().first)
        #expect(reply.timing == [2_000, 0, 2_000])
        #expect(served.queueUs == 2_000 && served.inferUs == 0 && served.totalUs == 2_000)
        #expect(core.stats.latencySummary == ["p50": 2_000, "p99": 2_000, "max": 2_000])
    }

    @Test func aStepWhoseDeadlinePassedInTheQueueStopsAtTheFirstExit() throws {
        let (core, outbox, clock) = try H.core()
        core.receive(H.step("arm-1", seq: 1, deadlineMs: 1))
        clock.advance(by: 5_000_000)
        core.serveNext()
        #expect(outbox.served.first?.missed == true)
        let reply = try #require(outbox.takeReplies().first)
        #expect(reply.type == "action" && reply.exit == 1 && reply.reason == "deadline")
        #expect(core.stats.deadlineMisses == 1)
        #expect(core.stats.reasons == ["deadline": 1])
    }

    @Test func theSameStepWithinItsDeadlineRunsToFullDepth() throws {
        let (core, outbox, _) = try H.core()
        core.receive(H.step("arm-1", seq: 1, deadlineMs: 1))
        core.serveNext()
        let reply = try #require(outbox.takeReplies().first)
        #expect(reply.exit == 3 && reply.reason == "last")
        #expect(core.stats.deadlineMisses == 0)
    }

    @Test func aSessionIsDroppedOnlyAfterItsIdleTimeout() throws {
        let (core, _, clock) = try H.core(H.settings(sessionIdleSeconds: 60))
        core.receive(H.step("arm-1", seq: 1))
        core.serveNext()
        clock.advance(seconds: 60)
        #expect(core.evictIdleSessions().isEmpty)
        clock.advance(by: 1)
        #expect(core.evictIdleSessions() == ["arm-1"])
        #expect(core.sessions.count == 0)
    }
}
