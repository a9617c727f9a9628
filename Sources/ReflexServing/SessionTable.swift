import ReflexEngine

/// Sessions by robot id, with a cap and an idle timeout.
package struct SessionTable {
    package private(set) var sessions: [String: Session] = [:]
    package var maxSessions: Int
    package var idleNanoseconds: UInt64

    package init(maxSessions: Int, idleSeconds: Double) {
        self.maxSessions = maxSessions
        idleNanoseconds = UInt64(idleSeconds * 1e9)
    }

    package var count: Int { sessions.count }

    package func contains(_ robot: String) -> Bool { sessions[robot] != nil }

    /// The robot's session, created (zero state) if needed. The serving loop checks the cap first.
    package mutating func session(_ robot: String, now: UInt64, makeState: () -> RecurrentState) -> Session {
        if let s = sessions[robot] { return s }
        let s = Session(robot: robot, recurrent: makeState(), now: now)
        sessions[robot] = s
        return s
    }

    package mutating func store(_ s: Session) { sessions[s.robot] = s }

    /// Clears a robot's recurrent state (a reset); false when it had no session.
    @discardableResult
    package mutating func reset(_ robot: String) -> Bool {
        guard sessions[robot] != nil else { return false }
        sessions[robot]!.recurrent.reset()
        sessions[robot]!.steps = 0
        return true
    }

    /// Drops every session unused for longer than the idle timeout; returns their robot ids.
    package mutating func evictIdle(now: UInt64) -> [String] {
        let idle = sessions.values.filter { now &- $0.lastSeen > idleNanoseconds }.map(\.robot)
        for r in idle { sessions.removeValue(forKey: r) }
        return idle
    }

    /// A new model with another recurrent layout invalidates every state.
    package mutating func resetAll(makeState: () -> RecurrentState) {
        for k in sessions.keys { sessions[k]!.recurrent = makeState() }
    }
}
