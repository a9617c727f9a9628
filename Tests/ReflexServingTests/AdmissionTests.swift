import Testing

@testable import ReflexServing

/// Step admission without sockets: sessions are made when a robot's first step is served and
/// reused after, latest wins per robot, the session cap refuses one robot too many while the
/// others are served, and pings, resets, pauses and bad requests are answered at once.
@Suite struct AdmissionTests {
    typealias H = ServingHarness

    @Test func aNewRobotsStepIsQueuedThenServedInANewSession() throws {
        let (core, outbox, _) = try H.core()
        core.receive(H.step("arm-1", seq: 1))
        #expect(outbox.takeReplies().isEmpty)
        #expect(core.queue.count == 1)
        #expect(core.sessions.count == 0)  // made when served, not when queued

        #expect(core.serveNext())
        let replies = outbox.takeReplies()
        #expect(replies.count == 1)
        let reply = try #require(replies.first)
        #expect(reply.type == "action" && reply.robot == "arm-1" && reply.seq == 1)
        #expect(reply.exit == 3 && reply.exits == 3 && reply.reason == "last")
        #expect(reply.hasAction)
        #expect(reply.envelope == [H.identity("arm-1", 1), []])
        let session = try #require(core.sessions.sessions["arm-1"])
        #expect(session.steps == 1 && session.lastSeq == 1)
        #expect(core.stats.steps == 1)
        #expect(!core.serveNext())
    }

    @Test func aKnownRobotsStepContinuesItsSession() throws {
        let (core, outbox, _) = try H.core()
        core.receive(H.step("arm-1", seq: 1))
        core.serveNext()
        let afterFirst = try #require(core.sessions.sessions["arm-1"]).recurrent
        #expect(afterFirst != core.model.policy.makeState())  // the step committed a state

        core.receive(H.step("arm-1", seq: 2))
        core.serveNext()
        #expect(outbox.takeReplies().map(\.seq) == [1, 2])
        #expect(core.sessions.count == 1)
        let session = try #require(core.sessions.sessions["arm-1"])
        #expect(session.steps == 2 && session.lastSeq == 2)
        #expect(session.recurrent != afterFirst)
    }

    @Test func eachServedStepIsPublishedUnderItsRobotWithTheReplysBytes() throws {
        let (core, outbox, _) = try H.core()
        core.receive(H.step("arm-1", seq: 5))
        core.serveNext()
        guard case .reply(let reply)? = outbox.events.first else {
            Issue.record("the reply comes first")
            return
        }
        #expect(outbox.published == [PublishedAction(robot: "arm-1", header: reply.header, action: reply.action!)])
        #expect(outbox.served.map(\.robot) == ["arm-1"])
    }

    @Test func aNewerStepOfTheSameRobotSupersedesTheQueuedOneWhichIsAnsweredStale() throws {
        let (core, outbox, _) = try H.core()
        core.receive(H.step("arm-1", seq: 1))
        core.receive(H.step("arm-2", seq: 1))
        core.receive(H.step("arm-1", seq: 2))
        let stale = outbox.takeReplies()
        #expect(stale.count == 1)
        #expect(stale.first?.type == "error" && stale.first?.code == "stale")
        #expect(stale.first?.message == "superseded by a newer request of the same robot")
        #expect(stale.first?.robot == "arm-1" && stale.first?.seq == 1)
        #expect(stale.first?.envelope == [H.identity("arm-1", 1), []])  // to the request it answers

        // arm-1 keeps its place in line, with its newest step.
        while core.serveNext() {}
        let served = outbox.takeReplies()
        #expect(served.map(\.robot) == ["arm-1", "arm-2"])
        #expect(served.map(\.seq) == [2, 1])
        #expect(served.allSatisfy { $0.type == "action" })
        #expect(core.stats.errors == ["stale": 1])
    }

    @Test func pastTheSessionCapANewRobotIsRefusedOverloadedAndTheOthersAreServed() throws {
        let (core, outbox, _) = try H.core(H.settings(maxSessions: 2))
        core.receive(H.step("arm-1", seq: 1))
        core.receive(H.step("arm-2", seq: 1))
        core.receive(H.step("arm-3", seq: 1))  // two robots already queued: the cap counts them
        let refused = outbox.takeReplies()
        #expect(refused.count == 1)
        #expect(refused.first?.code == "overloaded" && refused.first?.robot == "arm-3" && refused.first?.seq == 1)
        #expect(refused.first?.message == "session limit reached (2 robots)")

        while core.serveNext() {}
        #expect(outbox.takeReplies().map(\.robot) == ["arm-1", "arm-2"])

        core.receive(H.step("arm-3", seq: 2))
        core.receive(H.step("arm-1", seq: 2))
        core.receive(H.step("arm-2", seq: 2))
        while core.serveNext() {}
        let replies = outbox.takeReplies()
        #expect(replies.map(\.robot) == ["arm-3", "arm-1", "arm-2"])
        #expect(replies.map { $0.type ?? "" } == ["error", "action", "action"])
        #expect(core.sessions.count == 2)
        #expect(core.stats.errors == ["overloaded": 2])
    }

    @Test func anIdleSessionFreesItsPlaceUnderTheCap() throws {
        let (core, outbox, clock) = try H.core(H.settings(maxSessions: 1, sessionIdleSeconds: 60))
        core.receive(H.step("arm-1", seq: 1))
        core.serveNext()
        clock.advance(seconds: 59)
        #expect(core.evictIdleSessions().isEmpty)
        core.receive(H.step("arm-2", seq: 1))
        #expect(outbox.takeReplies().map(\.code) == [nil, "overloaded"])

        clock.advance(seconds: 2)
        #expect(core.evictIdleSessions() == ["arm-1"])
        core.receive(H.step("arm-2", seq: 2))
        core.serveNext()
        #expect(outbox.takeReplies().map { $0.type ?? "" } == ["action"])
        #expect(Array(core.sessions.sessions.keys) == ["arm-2"])
    }

    @Test func aResetClearsTheSessionAndVoidsItsQueuedStepsAsStale() throws {
        let (core, outbox, _) = try H.core()
        core.receive(H.step("arm-1", seq: 1))
        core.serveNext()
        core.receive(H.step("arm-1", seq: 2))
        core.receive(H.step("arm-2", seq: 1))
        _ = outbox.takeReplies()

        core.receive(H.reset("arm-1", seq: 3))
        let replies = outbox.takeReplies()
        #expect(replies.map { $0.type ?? "" } == ["error", "ok"])
        #expect(replies[0].code == "stale" && replies[0].seq == 2 && replies[0].message == "superseded by a reset")
        #expect(replies[1].seq == 3 && replies[1].envelope == [H.identity("arm-1", 3), []])
        let session = try #require(core.sessions.sessions["arm-1"])
        #expect(session.recurrent == core.model.policy.makeState() && session.steps == 0)
        #expect(core.queue.items.map(\.robot) == ["arm-2"])
    }

    @Test func aPingIsAnsweredAtOnceWithTheModel() throws {
        let (core, outbox, _) = try H.core()
        core.receive(H.ping(seq: 9))
        let pong = try #require(outbox.takeReplies().first)
        #expect(pong.type == "pong" && pong.seq == 9 && pong.exits == 3)
        #expect(pong.header["model"] == .string("tiny"))
        #expect(pong.header["model_sha256"] == .string(core.model.bundle.sha256))
        #expect(pong.header["version"] == .string("test"))
        #expect(core.queue.isEmpty)
    }

    @Test func whilePausedAStepIsAnsweredPausedAndNotQueued() throws {
        let (core, outbox, _) = try H.core()
        core.paused = true
        core.receive(H.step("arm-1", seq: 1))
        let reply = try #require(outbox.takeReplies().first)
        #expect(reply.code == "paused" && reply.message == "the operator paused the daemon; hold")
        #expect(core.queue.isEmpty)
        core.paused = false
        core.receive(H.step("arm-1", seq: 2))
        #expect(core.queue.count == 1)
    }

    @Test func aRequestThatDoesNotDecodeIsRefusedToItsSender() throws {
        let (core, outbox, _) = try H.core()
        core.receive([H.identity("arm-1", 1), [], Array("not json".utf8)])
        let reply = try #require(outbox.takeReplies().first)
        #expect(reply.code == "bad_header")
        #expect(reply.refusal?.code == .badHeader)
        #expect(reply.envelope == [H.identity("arm-1", 1), []])
        #expect(core.queue.isEmpty)
        #expect(core.stats.errors == ["bad_header": 1])
    }

    @Test func aMessageWithoutAnIdentityIsDropped() throws {
        let (core, outbox, _) = try H.core()
        core.receive([[UInt8]]())
        core.receive([[], Array("{}".utf8)])
        #expect(outbox.events.isEmpty)
        #expect(core.stats.errors.isEmpty)
    }
}
