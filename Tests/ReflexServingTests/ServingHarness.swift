import Foundation
import ReflexWire

@testable import ReflexServing

/// What the serving core's tests share: the committed fixture bundles, a core on a manual clock
/// whose output is kept, requests as a ROUTER socket would hand them over, replies read back.
enum ServingHarness {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// A bundle in Tests/Fixtures (`tiny`: 3 exits, one camera `image` 32×32×3, state [4]).
    static func bundle(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// The tiny bundle at full depth with fixed thresholds (no probes): every step reaches exit 3.
    static func settings(maxSessions: Int = 64, pendingPerRobot: Int = 1, sessionIdleSeconds: Double = 60) -> ServingSettings {
        ServingSettings(model: bundle("tiny"), scheduler: SchedulerConfig(mode: .fixed), maxSessions: maxSessions,
                        sessionIdleSeconds: sessionIdleSeconds, pendingPerRobot: pendingPerRobot)
    }

    static func core(_ settings: ServingSettings = settings(), clock: ManualClock = ManualClock(nanoseconds: 1_000_000_000))
        throws -> (ServingCore, RecordingOutbox, ManualClock) {
        let outbox = RecordingOutbox()
        let core = try ServingCore(settings: settings, clock: clock, version: "test", outbox: outbox)
        return (core, outbox, clock)
    }

    // MARK: Requests, as the policy socket receives them: identity, delimiter, header, tensors.

    /// The routing id a request of `robot` with `seq` comes with: the reply must carry it back.
    static func identity(_ robot: String, _ seq: UInt64) -> [UInt8] { Array("id:\(robot):\(seq)".utf8) }

    static func step(_ robot: String, seq: UInt64, deadlineMs: Int? = nil, instruction: String = "open the drawer") -> [[UInt8]] {
        let deadline = deadlineMs.map { #","deadline_ms":\#($0)"# } ?? ""
        let header = #"{"v":1,"type":"step","robot":"\#(robot)","seq":\#(seq),"instruction":"\#(instruction)"\#(deadline),"#
            + #""tensors":[{"name":"image","dtype":"uint8","shape":[32,32,3]},{"name":"state","dtype":"float32","shape":[4]}]}"#
        let image = (0..<(32 * 32 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seq)) }
        // The bundle's state mean: well inside the range the decoder accepts.
        let state = [Float(-0.84), -0.65, 0.45, -0.22].flatMap { value in
            withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
        }
        return [identity(robot, seq), [], Array(header.utf8), image, state]
    }

    static func reset(_ robot: String, seq: UInt64) -> [[UInt8]] {
        [identity(robot, seq), [], Array(#"{"v":1,"type":"reset","robot":"\#(robot)","seq":\#(seq)}"#.utf8)]
    }

    static func ping(seq: UInt64) -> [[UInt8]] {
        [identity("ping", seq), [], Array(#"{"v":1,"type":"ping","seq":\#(seq)}"#.utf8)]
    }
}

/// Keeps what the core posts, in order (swift-nio's EmbeddedChannel keeps outbound writes so).
final class RecordingOutbox: ServingOutbox {
    private(set) var events: [ServingEvent] = []
    /// Called with every reply as it is posted (a test can move its clock then).
    var onReply: ((ServingReply) -> Void)?

    func post(_ event: ServingEvent) {
        events.append(event)
        if case .reply(let reply) = event { onReply?(reply) }
    }

    /// The replies posted since the last call, read back; every event kept so far is let go.
    func takeReplies() -> [Answer] {
        let replies = events.compactMap { event -> Answer? in
            if case .reply(let reply) = event { return Answer(reply) }
            return nil
        }
        events.removeAll()
        return replies
    }

    var published: [PublishedAction] {
        events.compactMap { if case .publish(let copy) = $0 { return copy }; return nil }
    }

    var served: [ServedStep] {
        events.compactMap { if case .served(let step) = $0 { return step }; return nil }
    }
}

/// A reply read back: its envelope and the header fields the tests look at.
struct Answer: CustomStringConvertible {
    let envelope: [[UInt8]]
    let header: JSONObject
    let hasAction: Bool
    let refusal: WireError?

    init(_ reply: ServingReply) {
        envelope = reply.envelope
        guard case .object(let object)? = try? WireJSON.parse(reply.header) else { fatalError("a reply header is a JSON object") }
        header = object
        hasAction = reply.action != nil
        refusal = reply.refusal
    }

    var type: String? { string("type") }
    var robot: String? { string("robot") }
    var code: String? { string("code") }
    var message: String? { string("message") }
    var reason: String? { string("reason") }
    var seq: UInt64? { number("seq")?.uint64 }
    var exit: Int? { number("exit")?.int }
    var exits: Int? { number("exits")?.int }
    /// `timing_us` as [queue, infer, total].
    var timing: [UInt64]? {
        guard case .object(let t)? = header["timing_us"] else { return nil }
        return ["queue", "infer", "total"].compactMap { key in
            if case .number(let n)? = t[key] { return n.uint64 }
            return nil
        }
    }

    private func string(_ key: String) -> String? {
        if case .string(let s)? = header[key] { return s }
        return nil
    }

    private func number(_ key: String) -> JSONNumber? {
        if case .number(let n)? = header[key] { return n }
        return nil
    }

    var description: String { String(decoding: WireJSON.object(header).jsonBytes, as: UTF8.self) }
}
