/// Turns the frames of one request into a `WireRequest`, or into the `WireError` to answer.
///
/// Everything a client controls is checked here, before a request reaches a session or the
/// engine, so a malformed request costs one parse and one error reply and nothing else.
/// Checks run in a fixed order (size of the header, JSON, total size, `v`, `type`, `robot`,
/// `seq`, then the type's own fields and the tensors) so that a request with several faults
/// always gets the same error.
public struct RequestDecoder: Sendable {
    /// Largest header frame accepted; parsing a bigger one would only waste time.
    public static let defaultMaxHeaderBytes = 64 * 1024
    /// More tensor frames than this are refused before they are even listed: empty frames cost
    /// nothing against the byte limit, so without a count limit they could cost memory.
    public static let maxTensorFrames = 64

    /// The inputs the model expects (`reflexctl inspect`), matched by name.
    public var inputs: [TensorSpec]
    /// Largest request accepted, all body frames together (`limits.max_message_bytes`).
    public var maxMessageBytes: Int
    /// Largest header frame accepted.
    public var maxHeaderBytes: Int
    /// Per-element ranges of float32 inputs, by input name (`InputRange`); values outside are
    /// refused as `bad_tensor`, so that a finite but absurd observation (3e38) is the client's
    /// error and not an `internal` NaN from the network.
    public var ranges: [String: InputRange]

    public init(inputs: [TensorSpec], maxMessageBytes: Int, maxHeaderBytes: Int = RequestDecoder.defaultMaxHeaderBytes,
                ranges: [String: InputRange] = [:]) {
        self.inputs = inputs
        self.maxMessageBytes = maxMessageBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.ranges = ranges
    }

    /// Decodes `[header, tensors...]`: the frames after the routing envelope
    /// (see `RoutingEnvelope.split`). The returned tensors keep the caller's frames, uncopied.
    public func decode<Body: Collection>(_ body: Body) throws(WireError) -> WireRequest where Body.Element: WireFrame {
        // A thin generic shell: the checks below run in non-generic code, which stays fast even
        // when the caller's frame type is only known at run time.
        guard let headerFrame = body.first else {
            throw WireError(.badHeader, "empty request: frame 0 must be the JSON header")
        }
        var total = 0
        for frame in body {
            let (sum, overflow) = total.addingReportingOverflow(frame.count)
            total = overflow ? Int.max : sum
        }
        let frameCount = body.count - 1
        var tensorFrames: [any WireFrame] = []
        if frameCount <= Self.maxTensorFrames {
            tensorFrames.reserveCapacity(frameCount)
            for frame in body.dropFirst() { tensorFrames.append(frame) }
        }
        return try decode(header: headerFrame, tensorFrames: tensorFrames, frameCount: frameCount, totalBytes: total)
    }

    private func decode(
        header headerFrame: any WireFrame, tensorFrames: [any WireFrame], frameCount: Int, totalBytes: Int
    ) throws(WireError) -> WireRequest {
        guard headerFrame.count <= maxHeaderBytes else {
            throw WireError(.tooLarge, "header is \(headerFrame.count) bytes; the limit is \(maxHeaderBytes)")
        }
        let fields = try Self.parseHeaderObject(headerFrame)
        // Known as early as possible so that every later error can name the request.
        let robot = try? Self.robot(in: fields)
        let seq = try? Self.seq(in: fields)

        guard totalBytes <= maxMessageBytes else {
            throw WireError(.tooLarge, "request is \(totalBytes) bytes; the limit is \(maxMessageBytes)", robot: robot, seq: seq)
        }
        do throws(FieldError) {
            try Self.checkVersion(in: fields)
            let type = try Self.type(in: fields)
            guard frameCount <= Self.maxTensorFrames else {
                throw FieldError(.badTensor, "request has \(frameCount) tensor frames; at most \(Self.maxTensorFrames) are read")
            }
            switch type {
            case .ping:
                let pingRobot = try Self.robot(in: fields)  // optional on ping, but must be valid if given
                let pingSeq = try Self.requiredSeq(in: fields)
                try Self.checkNoTensorFrames(tensorFrames, type: type)
                return WireRequest(header: WireHeader(type: .ping, robot: pingRobot, seq: pingSeq), tensors: [])
            case .reset:
                let resetRobot = try Self.requiredRobot(in: fields)
                let resetSeq = try Self.requiredSeq(in: fields)
                try Self.checkNoTensorFrames(tensorFrames, type: type)
                return WireRequest(header: WireHeader(type: .reset, robot: resetRobot, seq: resetSeq), tensors: [])
            case .step:
                let stepRobot = try Self.requiredRobot(in: fields)
                let stepSeq = try Self.requiredSeq(in: fields)
                let instruction = try Self.instruction(in: fields)
                let deadline = try Self.deadline(in: fields)
                let declared = try Self.declaredTensors(in: fields)
                let tensors = try matchTensors(declared, frames: tensorFrames)
                let header = WireHeader(
                    type: .step, robot: stepRobot, seq: stepSeq, instruction: instruction,
                    deadlineMs: deadline, tensors: declared)
                return WireRequest(header: header, tensors: tensors)
            }
        } catch {
            throw WireError(error.code, error.message, robot: robot, seq: seq)
        }
    }

    // MARK: Header

    /// A header problem before robot/seq are attached.
    struct FieldError: Error {
        let code: WireErrorCode
        let message: String
        init(_ code: WireErrorCode, _ message: String) {
            self.code = code
            self.message = message
        }
    }

    private static func parseHeaderObject(_ frame: any WireFrame) throws(WireError) -> JSONObject {
        var failure: WireError?
        let parsed: WireJSON? = frame.withUnsafeBytes { bytes in
            do {
                return try WireJSON.parse(bytes)
            } catch {
                // Say "not UTF-8" when that is the root cause: it is the likelier client bug.
                if String(validating: bytes, as: UTF8.self) == nil {
                    failure = WireError(.badHeader, "header is not valid UTF-8")
                } else {
                    failure = WireError(.badHeader, "header is not valid JSON: \(error)")
                }
                return nil
            }
        }
        guard let parsed else { throw failure ?? WireError(.badHeader, "header is not valid JSON") }
        guard case .object(let fields) = parsed else {
            throw WireError(.badHeader, "header must be a JSON object, got \(parsed.kindDescription)")
        }
        return fields
    }

    private static func checkVersion(in fields: JSONObject) throws(FieldError) {
        guard let value = fields["v"] else { throw FieldError(.badHeader, "missing \"v\" (the protocol version, 1)") }
        guard case .number(let number) = value, number.isIntegerLiteral, number.int == 1 else {
            throw FieldError(.badHeader, "unsupported protocol version \(shown(value)); this server speaks \"v\": 1")
        }
    }

    private static func type(in fields: JSONObject) throws(FieldError) -> WireRequestType {
        guard let value = fields["type"] else { throw FieldError(.badHeader, "missing \"type\" (step, reset or ping)") }
        guard case .string(let name) = value else {
            throw FieldError(.badHeader, "\"type\" must be a string, got \(value.kindDescription)")
        }
        guard let type = WireRequestType(rawValue: name) else {
            throw FieldError(.unknownType, "unknown type \"\(JSONParser.abbreviated(name))\"; expected step, reset or ping")
        }
        return type
    }

    /// The robot id if present and valid; nil if absent.
    private static func robot(in fields: JSONObject) throws(FieldError) -> String? {
        guard let value = fields["robot"], value != .null else { return nil }
        guard case .string(let robot) = value else {
            throw FieldError(.badHeader, "\"robot\" must be a string, got \(value.kindDescription)")
        }
        let utf8 = robot.utf8
        guard (1...64).contains(utf8.count), utf8.allSatisfy(isRobotIDByte) else {
            throw FieldError(
                .badHeader,
                "\"robot\" must be 1–64 characters of A-Z a-z 0-9 . _ -, got \"\(JSONParser.abbreviated(robot))\"")
        }
        return robot
    }

    private static func requiredRobot(in fields: JSONObject) throws(FieldError) -> String {
        guard let robot = try robot(in: fields) else { throw FieldError(.badHeader, "missing \"robot\"") }
        return robot
    }

    private static func isRobotIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// The seq if present and valid; nil if absent. Only a plain integer literal in
    /// 0...2^64-1 is a seq: `true`, `1.0`, `-1`, `"1"` are not.
    private static func seq(in fields: JSONObject) throws(FieldError) -> UInt64? {
        guard let value = fields["seq"], value != .null else { return nil }
        guard case .number(let number) = value, let seq = number.uint64 else {
            throw FieldError(.badHeader, "\"seq\" must be an unsigned integer below 2^64, got \(shown(value))")
        }
        return seq
    }

    private static func requiredSeq(in fields: JSONObject) throws(FieldError) -> UInt64 {
        guard let seq = try seq(in: fields) else { throw FieldError(.badHeader, "missing \"seq\"") }
        return seq
    }

    private static func instruction(in fields: JSONObject) throws(FieldError) -> String {
        guard let value = fields["instruction"], value != .null else {
            throw FieldError(.badHeader, "missing \"instruction\" (the task in words; required on a step)")
        }
        guard case .string(let text) = value else {
            throw FieldError(.badHeader, "\"instruction\" must be a string, got \(value.kindDescription)")
        }
        guard text.utf8.count <= maxInstructionBytes else {
            throw FieldError(.badHeader, "\"instruction\" is \(text.utf8.count) bytes; at most \(maxInstructionBytes)")
        }
        return text
    }

    /// A task in words is a sentence, not a document: bounding it bounds the tokenizer's work
    /// and the `unknown_words` echoed back.
    public static let maxInstructionBytes = 4096

    /// Absent or null means "no per-step deadline".
    private static func deadline(in fields: JSONObject) throws(FieldError) -> Double? {
        guard let value = fields["deadline_ms"], value != .null else { return nil }
        guard case .number(let number) = value else {
            throw FieldError(.badHeader, "\"deadline_ms\" must be a number, got \(value.kindDescription)")
        }
        let milliseconds = number.double
        guard milliseconds.isFinite, milliseconds > 0 else {
            throw FieldError(.badHeader, "\"deadline_ms\" must be a positive number, got \(number.text)")
        }
        return milliseconds
    }

    /// A value as an error message shows it: literals as written, containers by kind.
    private static func shown(_ value: WireJSON) -> String {
        switch value {
        case .number(let number): return JSONParser.abbreviated(number.text)
        case .string(let text): return "\"\(JSONParser.abbreviated(text))\""
        default: return value.kindDescription
        }
    }

    // MARK: Tensors

    /// Parses the `tensors` list. Absent means none were sent (the count check reports it).
    private static func declaredTensors(in fields: JSONObject) throws(FieldError) -> [TensorSpec] {
        guard let value = fields["tensors"], value != .null else { return [] }
        guard case .array(let entries) = value else {
            throw FieldError(.badHeader, "\"tensors\" must be a list, got \(value.kindDescription)")
        }
        var specs: [TensorSpec] = []
        specs.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() {
            specs.append(try declaredTensor(entry, at: position))
        }
        return specs
    }

    private static func declaredTensor(_ entry: WireJSON, at position: Int) throws(FieldError) -> TensorSpec {
        let path = "tensors[\(position)]"
        guard case .object(let fields) = entry else {
            throw FieldError(.badTensor, "\(path) must be an object {name, dtype, shape}, got \(entry.kindDescription)")
        }
        guard case .string(let name)? = fields["name"], !name.isEmpty else {
            throw FieldError(.badTensor, "\(path).name must be a non-empty string")
        }
        guard case .string(let dtypeName)? = fields["dtype"] else {
            throw FieldError(.badTensor, "\(path).dtype must be a string (uint8 or float32)")
        }
        guard let dtype = TensorDType(rawValue: dtypeName) else {
            throw FieldError(
                .badTensor, "\(path).dtype \"\(JSONParser.abbreviated(dtypeName))\" is not supported; use uint8 or float32")
        }
        guard case .array(let dimensions)? = fields["shape"] else {
            throw FieldError(.badTensor, "\(path).shape must be a list of non-negative integers")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dimensions.count)
        for dimension in dimensions {
            guard case .number(let number) = dimension, let size = number.uint64, size <= UInt64(Int.max) else {
                throw FieldError(
                    .badTensor, "\(path).shape must be a list of non-negative integers, got \(shown(dimension))")
            }
            shape.append(Int(size))
        }
        return TensorSpec(name: name, dtype: dtype, shape: shape)
    }

    /// Checks the declared tensors against their frames and against the model's inputs, and
    /// returns them in the model's input order.
    private func matchTensors(_ declared: [TensorSpec], frames: [any WireFrame]) throws(FieldError) -> [WireTensor] {
        guard declared.count == frames.count else {
            throw FieldError(
                .badTensor,
                "header lists \(declared.count) tensor(s) but \(frames.count) tensor frame(s) follow it")
        }
        var matched = [WireTensor?](repeating: nil, count: inputs.count)
        for (spec, frame) in zip(declared, frames) {
            guard let slot = inputs.firstIndex(where: { $0.name == spec.name }) else {
                let names = inputs.map { "\"\($0.name)\"" }.joined(separator: ", ")
                throw FieldError(
                    .badTensor, "unknown tensor \"\(JSONParser.abbreviated(spec.name))\"; the model takes \(names)")
            }
            let expected = inputs[slot]
            guard matched[slot] == nil else {
                throw FieldError(.badTensor, "tensor \"\(spec.name)\" is listed twice")
            }
            guard spec.dtype == expected.dtype else {
                throw FieldError(
                    .badTensor, "tensor \"\(spec.name)\" must be \(expected.dtype.rawValue), got \(spec.dtype.rawValue)")
            }
            guard spec.shape == expected.shape else {
                throw FieldError(
                    .badTensor,
                    "tensor \"\(spec.name)\" must have shape \(Self.shapeText(expected.shape)), got \(Self.shapeText(spec.shape))")
            }
            // Equal to the expected shape, so the product is the model's own; a model whose
            // input size overflows can never be satisfied.
            let byteCount = expected.byteCount ?? Int.max
            guard frame.count == byteCount else {
                throw FieldError(
                    .badTensor,
                    "tensor \"\(spec.name)\" \(spec.dtype.rawValue)\(Self.shapeText(spec.shape)) needs \(byteCount) bytes, its frame has \(frame.count)")
            }
            if spec.dtype == .float32, let element = Self.firstNonFiniteFloat32(in: frame) {
                throw FieldError(.badTensor, "tensor \"\(spec.name)\" holds NaN or infinity at element \(element)")
            }
            if spec.dtype == .float32, let range = ranges[spec.name], let (element, value) = range.firstOutside(frame) {
                throw FieldError(
                    .badTensor,
                    "tensor \"\(spec.name)\" element \(element) is \(value), outside the model's input range [\(range.low[element]), \(range.high[element])] (\(range.origin))")
            }
            matched[slot] = WireTensor(spec: expected, frame: frame)
        }
        var ordered: [WireTensor] = []
        ordered.reserveCapacity(inputs.count)
        for (input, tensor) in zip(inputs, matched) {
            guard let tensor else {
                throw FieldError(.badTensor, "missing tensor \"\(input.name)\" (\(input.dtype.rawValue)\(Self.shapeText(input.shape)))")
            }
            ordered.append(tensor)
        }
        return ordered
    }

    private static func checkNoTensorFrames(_ frames: [any WireFrame], type: WireRequestType) throws(FieldError) {
        guard frames.isEmpty else {
            throw FieldError(.badTensor, "a \(type.rawValue) request carries no tensor frames, got \(frames.count)")
        }
    }

    /// `[32, 32, 3]`. A declared shape may have thousands of dimensions (the header allows
    /// 64 KiB): past `shownDimensions` only the count is shown, so error replies and log lines
    /// stay short, as every other echo of client text does.
    private static func shapeText(_ shape: [Int]) -> String {
        let shown = shape.prefix(shownDimensions).map(String.init).joined(separator: ", ")
        return shape.count <= shownDimensions ? "[\(shown)]" : "[\(shown), … (\(shape.count) dimensions)]"
    }

    private static let shownDimensions = 8

    /// Index of the first NaN or ±infinity (exponent bits all ones), or nil. Reads unaligned:
    /// a frame's bytes carry no alignment promise.
    static func firstNonFiniteFloat32(in frame: any WireFrame) -> Int? {
        frame.withUnsafeBytes { bytes in
            let count = bytes.count / 4
            for element in 0..<count {
                let bits = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: element * 4, as: UInt32.self))
                if bits & 0x7F80_0000 == 0x7F80_0000 { return element }
            }
            return nil
        }
    }
}
