import Foundation
import ReflexDaemon
import ReflexWire

/// A deterministic mutational fuzzer for the policy socket's decoder: `RoutingEnvelope.split`
/// then `RequestDecoder.decode`, as the serving loop runs them on every message.
///
/// Inputs are seeds (valid requests and the corpus of malformed ones) with a few stacked
/// mutations (`WireMutator`). Input `i` of a run depends only on the seed and `i`, so any input
/// a run reports can be rebuilt alone. Every input must come out as a request that meets the
/// contract or an error the decoder may give, and nothing may trap; see `violations`.
public struct WireFuzzer: Sendable {
    /// The tiny fixture's inputs (`Tests/Fixtures/tiny`): what the fuzzed decoder expects.
    public static let fixtureInputs = [
        TensorSpec(name: "image", dtype: .uint8, shape: [32, 32, 3]),
        TensorSpec(name: "state", dtype: .float32, shape: [4]),
    ]
    /// `limits.max_message_bytes` while fuzzing: small, so that `too_large` is reachable by
    /// small inputs (the corpus's oversize files).
    public static let maxMessageBytes = 65_536
    /// Error codes the decoder may give; the rest of CONTRACT section 5 comes from the server.
    public static let decoderCodes: Set<WireErrorCode> = [.badHeader, .unknownType, .badTensor, .tooLarge]
    /// Error messages are one sentence that echoes at most a little of the request.
    public static let maxErrorMessageBytes = 1024

    public let decoder: RequestDecoder
    public let seeds: [(name: String, frames: [[UInt8]])]
    /// The seeds that decode: a third of the inputs start from one of them, so that mutations
    /// also probe what the decoder lets through, not only what it refuses.
    private let acceptedSeeds: [Int]
    private let mutator: WireMutator

    public init(corpus: FuzzCorpus = .builtIn) {
        let decoder = RequestDecoder(inputs: Self.fixtureInputs, maxMessageBytes: Self.maxMessageBytes)
        let seeds = corpus.wire.isEmpty ? FuzzCorpus.builtIn.wire : corpus.wire
        self.decoder = decoder
        self.seeds = seeds
        mutator = WireMutator(donors: seeds.map(\.frames), maxMessageBytes: Self.maxMessageBytes,
                              maxHeaderBytes: decoder.maxHeaderBytes)
        acceptedSeeds = seeds.indices.filter {
            if case .accepted = Self.outcome(of: seeds[$0].frames, decoder: decoder) { return true } else { return false }
        }
    }

    /// One generated input and how it was made.
    public struct Input: Sendable {
        public var frames: [[UInt8]]
        public var seedName: String
        public var mutations: [String]
        public var description: String { StackedMutations.describe(seedName: seedName, mutations: mutations) }
    }

    /// The `index`-th input of the run with `seed`: a seed message with 1 to 6 mutations.
    public func input(seed: UInt64, index: Int) -> Input {
        let made = generate(seed: seed, index: index)
        return Input(frames: made.item, seedName: seeds[made.seedIndex].name, mutations: made.mutations.map { "\($0)" })
    }

    private func generate(seed: UInt64, index: Int) -> (item: [[UInt8]], seedIndex: Int, mutations: [StaticString]) {
        StackedMutations.generate(seedCount: seeds.count, acceptedSeeds: acceptedSeeds, seed: seed, stream: 1,
                                  index: index, seedItem: { seeds[$0].frames }, mutate: { mutator.mutate(&$0, rng: &$1) })
    }

    // MARK: Running one input

    public enum Outcome: Sendable {
        /// No routing identity: nothing can be answered.
        case dropped
        case accepted(WireRequest)
        case rejected(WireError)

        /// `dropped`, `accepted` or the error code.
        public var name: String {
            switch self {
            case .dropped: return "dropped"
            case .accepted: return "accepted"
            case .rejected(let error): return error.code.rawValue
            }
        }
    }

    /// What the serving loop makes of a message.
    public func outcome(of frames: [[UInt8]]) -> Outcome {
        Self.outcome(of: frames, decoder: decoder)
    }

    private static func outcome(of frames: [[UInt8]], decoder: RequestDecoder) -> Outcome {
        guard let (_, body) = RoutingEnvelope.split(frames) else { return .dropped }
        do {
            return .accepted(try decoder.decode(body))
        } catch {
            return .rejected(error)
        }
    }

    /// The invariants `outcome` broke for `frames`, in words (empty when it held them all).
    public func violations(of frames: [[UInt8]], outcome: Outcome) -> [String] {
        guard let (envelope, body) = RoutingEnvelope.split(frames) else {
            if let identity = frames.first, !identity.isEmpty { return ["split found no identity in a message that has one"] }
            return []
        }
        var found = envelopeViolations(frames: frames, envelope: envelope, body: body)
        switch outcome {
        case .dropped:
            found.append("dropped a message that has a routing identity")
        case .rejected(let error):
            found += errorViolations(error, body: body)
        case .accepted(let request):
            found += acceptedViolations(request, body: Array(body))
        }
        return found
    }

    private func envelopeViolations(frames: [[UInt8]], envelope: ArraySlice<[UInt8]>, body: ArraySlice<[UInt8]>) -> [String] {
        var found: [String] = []
        if envelope.startIndex != 0 || envelope.endIndex != body.startIndex || body.endIndex != frames.count || envelope.isEmpty {
            found.append("envelope \(envelope.indices) and body \(body.indices) do not split the \(frames.count) frames")
        }
        if envelope.count > 1 {
            if envelope.last?.isEmpty != true { found.append("an envelope of several frames does not end with the delimiter") }
            for hop in envelope.dropFirst().dropLast() where hop.isEmpty || hop.count > RoutingEnvelope.maxIdentityBytes {
                found.append("an envelope hop of \(hop.count) bytes")
            }
        }
        return found
    }

    private func errorViolations(_ error: WireError, body: ArraySlice<[UInt8]>) -> [String] {
        var found: [String] = []
        if !Self.decoderCodes.contains(error.code) { found.append("the decoder gave \(error.code.rawValue)") }
        let messageBytes = error.message.utf8.count
        if messageBytes == 0 || messageBytes > Self.maxErrorMessageBytes {
            found.append("\(error.code.rawValue) with a \(messageBytes)-byte message: \(error.message.prefix(120))…")
        }
        if let robot = error.robot, !Self.isValidRobot(robot) { found.append("the error names an invalid robot id") }
        if let header = body.first, header.count > decoder.maxHeaderBytes, error.code != .tooLarge {
            found.append("a \(header.count)-byte header got \(error.code.rawValue), not too_large")
        }
        return found
    }

    /// Checks an accepted request against the contract, re-reading the header with both this
    /// module's parser and Foundation's (an independent one).
    private func acceptedViolations(_ request: WireRequest, body: [[UInt8]]) -> [String] {
        var found: [String] = []
        let header = request.header
        let total = body.reduce(0) { $0 + $1.count }
        if total > decoder.maxMessageBytes || body[0].count > decoder.maxHeaderBytes {
            found.append("accepted \(total) bytes (header \(body[0].count)) past the limits")
        }
        guard case .object(let fields)? = try? WireJSON.parse(body[0]) else {
            return found + ["accepted a header that does not parse as a JSON object"]
        }
        if case .number(let v)? = fields["v"], v.text == "1" {} else { found.append("accepted \"v\" other than 1") }
        if fields["type"] != .string(header.type.rawValue) { found.append("type \(header.type) is not the header's") }
        switch fields["seq"] {
        case .number(let seq)? where seq.text == String(header.seq): break
        default: found.append("seq \(header.seq) is not the header's literal")
        }
        if let robot = header.robot {
            if !Self.isValidRobot(robot) { found.append("accepted robot id \(robot.debugDescription)") }
            if fields["robot"] != .string(robot) { found.append("robot is not the header's") }
        } else if header.type != .ping || (fields["robot"] != nil && fields["robot"] != .null) {
            found.append("a \(header.type) without robot")
        }
        switch header.type {
        case .step:
            if header.instruction == nil || fields["instruction"] != header.instruction.map(WireJSON.string) {
                found.append("a step whose instruction is not the header's")
            }
            if let deadline = header.deadlineMs, !(deadline.isFinite && deadline > 0) { found.append("deadline \(deadline)") }
            if header.deadlineMs == nil, let value = fields["deadline_ms"], value != .null { found.append("deadline dropped") }
            found += tensorViolations(request, body: body)
        case .ping, .reset:
            if !request.tensors.isEmpty || body.count != 1 || !header.tensors.isEmpty {
                found.append("a \(header.type) accepted with \(body.count - 1) frames")
            }
        }
        found += foundationViolations(request, header: body[0])
        return found
    }

    private func tensorViolations(_ request: WireRequest, body: [[UInt8]]) -> [String] {
        var found: [String] = []
        let inputs = decoder.inputs
        if request.tensors.map(\.spec) != inputs { found.append("tensors \(request.tensors.map(\.spec)) are not the model's inputs") }
        if body.count - 1 != inputs.count { found.append("a step accepted with \(body.count - 1) tensor frames") }
        if request.header.tensors.sorted(by: { $0.name < $1.name }) != inputs.sorted(by: { $0.name < $1.name }) {
            found.append("declared tensors \(request.header.tensors) are not the model's inputs")
        }
        for tensor in request.tensors {
            guard tensor.frame.count == tensor.spec.byteCount else {
                found.append("\(tensor.spec) accepted with a \(tensor.frame.count)-byte frame")
                continue
            }
            guard tensor.spec.dtype == .float32 else { continue }
            let finite = tensor.frame.withUnsafeBytes { bytes in
                (0..<bytes.count / 4).allSatisfy {
                    Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))).isFinite
                }
            }
            if !finite { found.append("\(tensor.spec) accepted holding NaN or infinity") }
        }
        return found
    }

    private func foundationViolations(_ request: WireRequest, header: [UInt8]) -> [String] {
        // Foundation's parser (swift-corelibs) drops U+FEFF wherever it is in a string, so it
        // reads `"\u{FEFF}robot"` as a second `robot`; this module's parser keeps the code
        // point, as RFC 8259 says. Such headers are not compared.
        if header.indices.dropLast(2).contains(where: { header[$0] == 0xEF && header[$0 + 1] == 0xBB && header[$0 + 2] == 0xBF })
            || String(decoding: header, as: UTF8.self).lowercased().contains("\\ufeff") {
            return []
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(header), options: [.fragmentsAllowed])
        } catch {
            // Foundation refuses numbers a Double cannot hold (`1e309` in an ignored field); RFC
            // 8259 leaves that range to each parser, and the decoder only reads ones it checks.
            if "\(error)".contains("is not representable") { return [] }
            return ["Foundation's JSON parser refuses an accepted header: \(error)"]
        }
        guard let object = parsed as? [String: Any] else { return ["Foundation reads an accepted header as no object"] }
        var found: [String] = []
        if object["type"] as? String != request.header.type.rawValue { found.append("Foundation reads another type") }
        if let robot = request.header.robot, object["robot"] as? String != robot { found.append("Foundation reads another robot") }
        if let instruction = request.header.instruction, object["instruction"] as? String != instruction {
            found.append("Foundation reads another instruction")
        }
        if (object["v"] as? NSNumber)?.doubleValue != 1 { found.append("Foundation reads another v") }
        return found
    }

    static func isValidRobot(_ robot: String) -> Bool {
        (1...64).contains(robot.utf8.count) && robot.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    // MARK: A run

    /// Runs inputs `0..<count` of `seed`. `willRun` is called with each index before the input
    /// runs (so a crash handler can say which input it was).
    public func run(count: Int, seed: UInt64, willRun: ((Int) -> Void)? = nil) -> FuzzTargetReport {
        var tally = FuzzTally(target: .wire, seed: seed, seedCount: seeds.count)
        for index in 0..<count {
            willRun?(index)
            let made = generate(seed: seed, index: index)
            let frames = made.item
            let (outcome, time) = FuzzTime.measure { self.outcome(of: frames) }
            var problems = violations(of: frames, outcome: outcome)
            // Decoding is a pure function of the bytes: check it on a sample of inputs.
            if index % 16 == 0, self.outcome(of: frames).name != outcome.name { problems.append("a second decode differs") }
            tally.record(
                index: index, outcome: outcome.name, time: time, bytes: frames.reduce(0) { $0 + $1.count },
                violations: problems,
                describe: { StackedMutations.describe(seedName: seeds[made.seedIndex].name, mutations: made.mutations) })
        }
        return tally.finish()
    }
}
