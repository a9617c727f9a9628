import Testing

@testable import ReflexServing

/// Draining at shutdown: every queued step gets an answer, an action while the deadline allows
/// and `overloaded` after it, in the order they were queued.
@Suite struct ShutdownDrainTests {
    typealias H = ServingHarness

    func queueThreeRobots(_ core: ServingCore) {
        for robot in ["arm-1", "arm-2", "arm-3"] { core.receive(H.step(robot, seq: 7)) }
    }

    @Test func beforeTheDeadlineEveryQueuedStepIsServed() throws {
        let (core, outbox, clock) = try H.core()
        queueThreeRobots(core)
        core.drainQueue(deadline: clock.now() + 1_500_000_000)
        let replies = outbox.takeReplies()
        #expect(replies.map(\.robot) == ["arm-1", "arm-2", "arm-3"])
        #expect(replies.allSatisfy { $0.type == "action" && $0.seq == 7 })
        #expect(core.queue.isEmpty)
        #expect(core.stats.steps == 3)
    }

    @Test func pastTheDeadlineEveryQueuedStepIsRefusedOverloaded() throws {
        let (core, outbox, clock) = try H.core()
        queueThreeRobots(core)
        core.drainQueue(deadline: clock.now())
        let replies = outbox.takeReplies()
        #expect(replies.map(\.robot) == ["arm-1", "arm-2", "arm-3"])
        #expect(replies.allSatisfy { $0.code == "overloaded" && $0.message == "the daemon is stopping" && $0.seq == 7 })
        #expect(replies.map(\.envelope) == ["arm-1", "arm-2", "arm-3"].map { [H.identity($0, 7), []] })
        #expect(core.queue.isEmpty)
        #expect(core.stats.steps == 0)
        #expect(core.stats.errors == ["overloaded": 3])
    }

    @Test func theDeadlinePassingWhileDrainingRefusesOnlyTheRest() throws {
        let (core, outbox, clock) = try H.core()
        queueThreeRobots(core)
        let deadline = clock.now() + 500_000_000
        outbox.onReply = { _ in clock.advance(seconds: 1) }  // each reply takes a second
        core.drainQueue(deadline: deadline)
        let replies = outbox.takeReplies()
        #expect(replies.map(\.robot) == ["arm-1", "arm-2", "arm-3"])
        #expect(replies.map { $0.type ?? "" } == ["action", "error", "error"])
        #expect(replies.dropFirst().allSatisfy { $0.code == "overloaded" })
        #expect(core.queue.isEmpty)
    }
}
