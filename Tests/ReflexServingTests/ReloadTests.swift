import Testing

@testable import ReflexServing

/// Reloading while serving: a budget alone keeps everything; the same bundle loaded again keeps
/// the sessions; a bundle with other weights resets their recurrent state and the statistics
/// and serves what is queued; a reload that fails changes nothing.
@Suite struct ReloadTests {
    typealias H = ServingHarness

    /// A core that has served one step of arm-1 (its session holds a non-zero state).
    func servedOnce() throws -> (ServingCore, RecordingOutbox, ManualClock) {
        let (core, outbox, clock) = try H.core()
        core.receive(H.step("arm-1", seq: 1))
        core.serveNext()
        _ = outbox.takeReplies()
        return (core, outbox, clock)
    }

    @Test func aBudgetOnlyReloadKeepsTheSessionsAndStatistics() throws {
        let (core, _, _) = try servedOnce()
        let before = try #require(core.sessions.sessions["arm-1"])
        var next = core.settings
        next.budget = BudgetConfig(average: .fraction(0.5), deadlineMs: 40)
        #expect(try core.reload(to: next) == .budgetApplied(loadedExits: nil))
        #expect(core.planner.budget == next.budget)
        #expect(core.settings == next)
        #expect(core.sessions.sessions["arm-1"]?.recurrent == before.recurrent)
        #expect(core.sessions.sessions["arm-1"]?.steps == 1)
        #expect(core.stats.steps == 1)
    }

    @Test func reloadingTheSameBundleWithOtherEngineSettingsKeepsTheSessions() throws {
        let (core, _, _) = try servedOnce()
        let before = try #require(core.sessions.sessions["arm-1"])
        var next = core.settings
        next.threads = 2
        #expect(try core.reload(to: next) == .modelLoaded(sessionsReset: false))
        #expect(core.sessions.sessions["arm-1"]?.recurrent == before.recurrent)
        #expect(core.stats.steps == 1)
    }

    @Test func anotherBundleResetsEveryStateAndTheStatisticsAndServesWhatIsQueued() throws {
        let (core, outbox, _) = try servedOnce()
        core.receive(H.step("arm-1", seq: 2))
        var next = core.settings
        next.model = H.bundle("tiny-int8")
        #expect(try core.reload(to: next) == .modelLoaded(sessionsReset: true))
        #expect(core.model.bundle.manifest.name == "tiny-int8")
        let session = try #require(core.sessions.sessions["arm-1"])
        #expect(session.recurrent == core.model.policy.makeState())
        #expect(core.stats.steps == 0 && core.stats.exitHistogram == [0, 0, 0, 0])

        #expect(core.queue.count == 1)
        core.serveNext()
        let reply = try #require(outbox.takeReplies().first)
        #expect(reply.type == "action" && reply.seq == 2 && reply.exits == 4)
    }

    @Test func aReloadThatFailsKeepsTheOldModelAndSessions() throws {
        let (core, outbox, _) = try servedOnce()
        let sha = core.model.bundle.sha256, settings = core.settings
        let before = try #require(core.sessions.sessions["arm-1"])
        var next = settings
        next.model = H.bundle("no-such-bundle")
        next.maxSessions = 1
        #expect(throws: (any Error).self) { try core.reload(to: next) }
        #expect(core.model.bundle.sha256 == sha)
        #expect(core.settings == settings)
        #expect(core.sessions.sessions["arm-1"]?.recurrent == before.recurrent)
        #expect(core.sessions.maxSessions == 64)

        core.receive(H.step("arm-1", seq: 2))
        core.serveNext()
        #expect(outbox.takeReplies().first?.exits == 3)
    }

    @Test func anUnreachableBudgetIsRefusedAndTheOldOneStays() throws {
        let (core, _, _) = try servedOnce()
        let budget = core.planner.budget
        #expect(throws: (any Error).self) { try core.applyBudget(BudgetConfig(average: .fraction(0.001))) }
        #expect(core.planner.budget == budget)
        #expect(core.settings.budget == budget)
    }

    @Test func aMemoryCapLoadsFewerExitsAndKeepsTheSessions() throws {
        let (core, outbox, _) = try servedOnce()
        let before = try #require(core.sessions.sessions["arm-1"])
        let twoExits = Double(core.planner.memory.residentBytes[1]) / 1_048_576
        #expect(try core.applyBudget(BudgetConfig(memoryMB: twoExits)) == 2)
        #expect(core.model.policy.loadedExits == 2)
        #expect(core.sessions.sessions["arm-1"]?.recurrent == before.recurrent)

        core.receive(H.step("arm-1", seq: 2))
        core.serveNext()
        let reply = try #require(outbox.takeReplies().first)
        #expect(reply.exit == 2 && reply.exits == 3 && reply.reason == "memory")
    }

    @Test func newSessionLimitsTakeEffectAtOnce() throws {
        let (core, outbox, _) = try servedOnce()
        var next = core.settings
        next.maxSessions = 1
        try core.reload(to: next)
        core.receive(H.step("arm-2", seq: 1))
        let reply = try #require(outbox.takeReplies().first)
        #expect(reply.code == "overloaded" && reply.message == "session limit reached (1 robots)")
    }
}
