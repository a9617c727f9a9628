import ReflexEngine

/// Sessions by robot id, with a cap and an idle timeout.
struct SessionTable {
    private(set) var sessions: [String: Session] = [:]
    var maxSessions: Int
    var idleNanoseconds: UInt64

    init(maxSessions: Int, idleSeconds: Double) {
        self.maxSessions = maxSessions
        idleNanoseconds = UInt64(idleSeconds * 1e9)
    }

    var count: Int { sessions.count }

    func contains(_ robot: String) -> Bool { sessions[robot] != nil }

    /// The robot's session, created (zero state) if needed. The serving loop checks the cap first.
    mutating func session(_ robot: String, now: UInt64, makeState: () -> RecurrentState) -> Session {
        if let s = sessions[robot] { return s }
        let s = Session(robot: robot, recurrent: makeState(), now: now)
        sessions[robot] = s
        return s
    }

    mutating func store(_ s: Session) { sessions[s.robot] = s }

    /// Clears a robot's recurrent state (a reset); false when it had no session.
    @discardableResult
    mutating func reset(_ robot: String) -> Bool {
        guard sessions[robot] != nil else { return false }
        sessions[robot]!.recurrent.reset()
        sessions[robot]!.steps = 0
        return true
    }

    /// Drops every session unused for longer than the idle timeout; returns their robot ids.
    mutating func evictIdle(now: UInt64) -> [String] {
        let idle = sessions.values.filter { now &- $0.lastSeen > idleNanoseconds }.map(\.robot)
        for r in idle { sessions.removeValue(forKey: r) }
        return idle
    }

    /// A new model with another recurrent layout invalidates every state.
    mutating func resetAll(makeState: () -> RecurrentState) {
        for k in sessions.keys { sessions[k]!.recurrent = makeState() }
    }
}
