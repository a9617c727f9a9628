import Foundation
import Testing

@testable import ReflexWire

/// The policy socket's wire format (CONTRACT section 5): what is accepted, the exact error code
/// of everything that is not, and replies that any JSON parser reads back.
@Suite struct WireCodecTests {
    static let inputs = [
        TensorSpec(name: "image", dtype: .uint8, shape: [4, 4, 3]),
        TensorSpec(name: "state", dtype: .float32, shape: [4]),
    ]
    let decoder = RequestDecoder(inputs: WireCodecTests.inputs, maxMessageBytes: 4096, maxHeaderBytes: 1024)

    static let stepHeader = #"""
        {"v":1,"type":"step","robot":"arm-1","seq":7,"instruction":"open the drawer",
         "tensors":[{"name":"image","dtype":"uint8","shape":[4,4,3]},{"name":"state","dtype":"float32","shape":[4]}]}
        """#
    static let image = [UInt8](repeating: 200, count: 48)
    static let state = floatBytes([0.5, -1, 2.25, 0])

    static func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { value -> [UInt8] in
            let bits = value.bitPattern.littleEndian
            return [UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24)]
        }
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The error a body of frames gets (nil when it decodes).
    func error(_ frames: [[UInt8]]) -> WireError? {
        do {
            _ = try decoder.decode(frames)
            return nil
        } catch {
            return error
        }
    }

    /// The error code a header gets when sent with the good step's tensor frames.
    func code(header: String, frames: [[UInt8]] = [WireCodecTests.image, WireCodecTests.state]) -> WireErrorCode? {
        error([Self.bytes(header)] + frames)?.code
    }

    // MARK: Good requests

    @Test func aGoodStepDecodesWithItsFramesUncopied() throws {
        let request = try decoder.decode([Self.bytes(Self.stepHeader), Self.image, Self.state])
        #expect(request.header == WireHeader(
            type: .step, robot: "arm-1", seq: 7, instruction: "open the drawer", deadlineMs: nil,
            tensors: Self.inputs))
        #expect(request.tensors.map(\.spec) == Self.inputs)
        #expect(request.tensors[0].frame as? [UInt8] == Self.image)
        #expect(request.tensor(named: "state")?.frame as? [UInt8] == Self.state)
    }

    @Test func tensorsMayComeInAnyOrderAndAreReturnedInTheModelsOrder() throws {
        let header = #"""
            {"v":1,"type":"step","robot":"r","seq":0,"instruction":"","deadline_ms":2.5,
             "tensors":[{"name":"state","dtype":"float32","shape":[4]},{"name":"image","dtype":"uint8","shape":[4,4,3]}],
             "future_field":{"ignored":true}}
            """#
        let request = try decoder.decode([Self.bytes(header), Self.state, Self.image])
        #expect(request.tensors.map(\.spec.name) == ["image", "state"])
        #expect(request.tensors[0].frame as? [UInt8] == Self.image)
        #expect(request.header.deadlineMs == 2.5)
        #expect(request.header.instruction == "")
    }

    @Test func pingAndResetDecode() throws {
        let ping = try decoder.decode([Self.bytes(#"{"v":1,"type":"ping","seq":18446744073709551615}"#)])
        #expect(ping.header == WireHeader(type: .ping, robot: nil, seq: UInt64.max))
        let reset = try decoder.decode([Self.bytes(#" {"v":1,"type":"reset","robot":"A.b_c-9","seq":3} "#)])
        #expect(reset.header == WireHeader(type: .reset, robot: "A.b_c-9", seq: 3))
        #expect(reset.tensors.isEmpty)
    }

    @Test func framesBackedByDataAndSlicesDecode() throws {
        let frames: [Data] = [Data(Self.stepHeader.utf8), Data(Self.image), Data(Self.state)]
        let request = try decoder.decode(frames)
        #expect(request.header.seq == 7)
        let slices: [ArraySlice<UInt8>] = [Self.bytes(Self.stepHeader)[...], Self.image[...], ([0, 0] + Self.state)[2...]]
        #expect(try decoder.decode(slices).tensors.count == 2)
    }

    // MARK: Envelopes

    @Test func dealerFramesWithoutDelimiterSplitAfterTheIdentity() throws {
        let frames: [[UInt8]] = [[0, 1, 2, 3, 4], Self.bytes(Self.stepHeader), Self.image, Self.state]
        let (envelope, body) = try #require(RoutingEnvelope.split(frames))
        #expect(Array(envelope) == [[0, 1, 2, 3, 4]])
        #expect(try decoder.decode(body).header.seq == 7)
    }

    @Test func dealerFramesWithDelimiterKeepTheDelimiterInTheEnvelope() throws {
        let frames: [[UInt8]] = [[0, 9], [], Self.bytes(Self.stepHeader), Self.image, Self.state]
        let (envelope, body) = try #require(RoutingEnvelope.split(frames))
        #expect(Array(envelope) == [[0, 9], []])
        #expect(try decoder.decode(body).header.robot == "arm-1")
    }

    @Test func reqEnvelopesThroughAProxyKeepEveryIdentity() throws {
        let frames: [[UInt8]] = [[0, 1], Self.bytes("proxy-hop"), [], Self.bytes(#"{"v":1,"type":"ping","seq":1}"#)]
        let (envelope, body) = try #require(RoutingEnvelope.split(frames))
        #expect(Array(envelope) == [[0, 1], Self.bytes("proxy-hop"), []])
        #expect(try decoder.decode(body).header.type == .ping)
    }

    @Test func anEmptyTensorFrameAfterTheHeaderIsNotTakenForADelimiter() throws {
        let frames: [[UInt8]] = [[0, 1], Self.bytes(#"{"v":1,"type":"ping","seq":1}"#), []]
        let (envelope, body) = try #require(RoutingEnvelope.split(frames))
        #expect(Array(envelope) == [[0, 1]])
        #expect(body.count == 2)
        #expect(RoutingEnvelope.split([[UInt8]]()) == nil)
    }

    // MARK: bad_header

    @Test func headersThatAreNotAJSONObjectAreBadHeaderWithNullRobotAndSeq() {
        for header in ["", "not json", "[1,2]", "\"step\"", "{\"v\":1,", "{\"v\":1}}", "{'v':1}", "{\"v\":01}",
                       "{\"a\":1,\"a\":2}", "{\"s\":\"\\ud800\"}", "{\"s\":\"tab\there\"}", "{\"n\":NaN}",
                       "{\"n\":1.}", "{\"n\":.5}", "{\"n\":+1}", "{\"v\":1,}",
                       String(repeating: "[", count: 100) + String(repeating: "]", count: 100)] {
            let failure = error([Self.bytes(header)])
            #expect(failure?.code == .badHeader, "\(header)")
            #expect(failure?.robot == nil && failure?.seq == nil, "\(header)")
        }
        #expect(error([])?.code == .badHeader)
    }

    @Test func invalidUTF8IsBadHeader() {
        var header = Self.bytes(#"{"v":1,"type":"ping","seq":1,"robot":"r"#)
        header += [0xC3, 0x28] + Self.bytes(#""}"#)
        #expect(error([header]) == WireError(.badHeader, "header is not valid UTF-8"))
        #expect(error([[0xFF] + Self.bytes(#"{"v":1}"#)])?.message == "header is not valid UTF-8")
    }

    @Test func versionMustBeTheInteger1() {
        for v in ["2", "1.0", "\"1\"", "true", "null", "0"] {
            #expect(code(header: #"{"v":\#(v),"type":"ping","seq":1}"#, frames: []) == .badHeader, "v \(v)")
        }
        #expect(code(header: #"{"type":"ping","seq":1}"#, frames: []) == .badHeader)
    }

    @Test func typeMustBeAKnownString() {
        #expect(code(header: #"{"v":1,"seq":1}"#, frames: []) == .badHeader)
        #expect(code(header: #"{"v":1,"type":5,"seq":1}"#, frames: []) == .badHeader)
        #expect(error([Self.bytes(#"{"v":1,"type":"fly","robot":"r","seq":1}"#)])
            == WireError(.unknownType, "unknown type \"fly\"; expected step, reset or ping", robot: "r", seq: 1))
        #expect(code(header: #"{"v":1,"type":"STEP","seq":1}"#, frames: []) == .unknownType)
    }

    @Test func robotIdsAreOneTo64SafeCharacters() {
        let tooLong = String(repeating: "a", count: 65)
        for robot in ["\"\"", "\"\(tooLong)\"", "\"arm 1\"", "\"arm/1\"", "\"ärm\"", "5", "true", "[\"a\"]"] {
            let failure = error([Self.bytes(#"{"v":1,"type":"reset","robot":\#(robot),"seq":4}"#)])
            #expect(failure?.code == .badHeader, "robot \(robot)")
            #expect(failure?.robot == nil && failure?.seq == 4, "robot \(robot)")
        }
        #expect(code(header: #"{"v":1,"type":"reset","seq":4}"#, frames: []) == .badHeader)
        let longest = String(repeating: "Z", count: 64)
        #expect(code(header: #"{"v":1,"type":"reset","robot":"\#(longest)","seq":4}"#, frames: []) == nil)
    }

    @Test func seqIsAnUnsignedIntegerLiteralAndNeverABoolean() {
        for seq in ["true", "false", "-1", "-0", "1.5", "1.0", "1e3", "\"7\"", "18446744073709551616", "null", "{}"] {
            let failure = error([Self.bytes(#"{"v":1,"type":"reset","robot":"r","seq":\#(seq)}"#)])
            #expect(failure?.code == .badHeader, "seq \(seq)")
            #expect(failure?.seq == nil && failure?.robot == "r", "seq \(seq)")
        }
        #expect(error([Self.bytes(#"{"v":1,"type":"reset","robot":"r","seq":true}"#)])?.message
            == "\"seq\" must be an unsigned integer below 2^64, got true")
        #expect(code(header: #"{"v":1,"type":"reset","robot":"r","seq":0}"#, frames: []) == nil)
    }

    @Test func aStepNeedsAStringInstruction() {
        let tensors = #""tensors":[{"name":"image","dtype":"uint8","shape":[4,4,3]},{"name":"state","dtype":"float32","shape":[4]}]"#
        #expect(code(header: #"{"v":1,"type":"step","robot":"r","seq":1,\#(tensors)}"#) == .badHeader)
        #expect(code(header: #"{"v":1,"type":"step","robot":"r","seq":1,"instruction":5,\#(tensors)}"#) == .badHeader)
        #expect(code(header: #"{"v":1,"type":"step","robot":"r","seq":1,"instruction":"go",\#(tensors)}"#) == nil)
    }

    @Test func deadlineMsIsAPositiveNumberWhenGiven() {
        let tensors = #""tensors":[{"name":"image","dtype":"uint8","shape":[4,4,3]},{"name":"state","dtype":"float32","shape":[4]}]"#
        for deadline in ["0", "-5", "\"5\"", "true", "1e999"] {
            let header = #"{"v":1,"type":"step","robot":"r","seq":1,"instruction":"go","deadline_ms":\#(deadline),\#(tensors)}"#
            #expect(code(header: header) == .badHeader, "deadline \(deadline)")
        }
        let header = #"{"v":1,"type":"step","robot":"r","seq":1,"instruction":"go","deadline_ms":null,\#(tensors)}"#
        #expect(code(header: header) == nil)
    }

    @Test func tensorsMustBeAList() {
        #expect(code(header: #"{"v":1,"type":"step","robot":"r","seq":1,"instruction":"go","tensors":{}}"#) == .badHeader)
    }

    // MARK: bad_tensor

    /// A step header with the given tensors list.
    func step(_ tensors: String) -> String {
        #"{"v":1,"type":"step","robot":"r","seq":9,"instruction":"go","tensors":[\#(tensors)]}"#
    }

    static let imageSpec = #"{"name":"image","dtype":"uint8","shape":[4,4,3]}"#
    static let stateSpec = #"{"name":"state","dtype":"float32","shape":[4]}"#

    @Test func tensorCountMustMatchTheFramesAndTheModel() {
        #expect(code(header: step(Self.imageSpec), frames: [Self.image, Self.state]) == .badTensor)
        #expect(code(header: step("\(Self.imageSpec),\(Self.stateSpec)"), frames: [Self.image]) == .badTensor)
        #expect(code(header: step(Self.imageSpec), frames: [Self.image]) == .badTensor)  // state missing
        #expect(error([Self.bytes(step(Self.imageSpec)), Self.image])
            == WireError(.badTensor, "missing tensor \"state\" (float32[4])", robot: "r", seq: 9))
        let noList = #"{"v":1,"type":"step","robot":"r","seq":9,"instruction":"go"}"#
        #expect(code(header: noList) == .badTensor)
        #expect(code(header: #"{"v":1,"type":"ping","seq":1}"#, frames: [Self.image]) == .badTensor)
        let flood = [[UInt8]](repeating: [], count: 100_000)
        #expect(error([Self.bytes(step(Self.imageSpec))] + flood)
            == WireError(.badTensor, "request has 100000 tensor frames; at most 64 are read", robot: "r", seq: 9))
    }

    @Test func tensorNamesMustBeTheModelsAndUnique() {
        let other = #"{"name":"depth","dtype":"float32","shape":[4]}"#
        #expect(code(header: step("\(Self.imageSpec),\(other)")) == .badTensor)
        #expect(code(header: step("\(Self.stateSpec),\(Self.stateSpec)"), frames: [Self.state, Self.state]) == .badTensor)
        #expect(code(header: step(#"{"name":"","dtype":"uint8","shape":[4,4,3]},\#(Self.stateSpec)"#)) == .badTensor)
        #expect(code(header: step(#"5,\#(Self.stateSpec)"#)) == .badTensor)
    }

    @Test func dtypesMustBeSupportedAndMatchTheModel() {
        let wrong = #"{"name":"state","dtype":"uint8","shape":[4]}"#
        #expect(error([Self.bytes(step("\(Self.imageSpec),\(wrong)")), Self.image, [0, 0, 0, 0]])?.message
            == "tensor \"state\" must be float32, got uint8")
        let unsupported = #"{"name":"state","dtype":"float64","shape":[4]}"#
        #expect(code(header: step("\(Self.imageSpec),\(unsupported)")) == .badTensor)
        let missing = #"{"name":"state","shape":[4]}"#
        #expect(code(header: step("\(Self.imageSpec),\(missing)")) == .badTensor)
    }

    @Test func shapesMustMatchTheModelAndBeNonNegativeIntegers() {
        for shape in ["[8]", "[2,2]", "[-4]", "[4.0]", "[\"4\"]", "4", "[18446744073709551616]",
                      "[4294967296,4294967296,4294967296]", "[9223372036854775807,2]"] {
            let spec = #"{"name":"state","dtype":"float32","shape":\#(shape)}"#
            #expect(code(header: step("\(Self.imageSpec),\(spec)")) == .badTensor, "shape \(shape)")
        }
        let wrong = #"{"name":"image","dtype":"uint8","shape":[8,8,3]}"#
        #expect(error([Self.bytes(step("\(wrong),\(Self.stateSpec)")), Self.image, Self.state])?.message
            == "tensor \"image\" must have shape [4, 4, 3], got [8, 8, 3]")
    }

    @Test func byteLengthMustBeShapeTimesDtypeSize() {
        let header = step("\(Self.imageSpec),\(Self.stateSpec)")
        #expect(error([Self.bytes(header), Self.image, Array(Self.state.dropLast())])
            == WireError(.badTensor, "tensor \"state\" float32[4] needs 16 bytes, its frame has 15", robot: "r", seq: 9))
        #expect(code(header: header, frames: [Self.image + [1], Self.state]) == .badTensor)
        #expect(code(header: header, frames: [[], Self.state]) == .badTensor)
    }

    @Test func nanAndInfinityInFloatInputsAreBadTensor() {
        let header = step("\(Self.imageSpec),\(Self.stateSpec)")
        for poison: Float in [.nan, .infinity, -.infinity, .signalingNaN] {
            let state = Self.floatBytes([0, 1, poison, 3])
            #expect(error([Self.bytes(header), Self.image, state])
                == WireError(.badTensor, "tensor \"state\" holds NaN or infinity at element 2", robot: "r", seq: 9))
        }
        // The largest finite float and subnormals are fine.
        let edge = Self.floatBytes([.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -0.0])
        #expect(error([Self.bytes(header), Self.image, edge]) == nil)
    }

    // MARK: too_large

    @Test func oversizeHeadersAreTooLargeWithoutBeingParsed() {
        let padding = String(repeating: " ", count: 1025)
        let failure = error([Self.bytes(#"{"v":1,"type":"ping","robot":"r","seq":1}"# + padding)])
        #expect(failure == WireError(.tooLarge, "header is 1066 bytes; the limit is 1024"))
    }

    @Test func oversizeRequestsAreTooLargeAndNameTheRequest() {
        let failure = error([Self.bytes(step("\(Self.imageSpec),\(Self.stateSpec)")), Self.image, [UInt8](repeating: 0, count: 4000)])
        #expect(failure?.code == .tooLarge)
        #expect(failure?.robot == "r" && failure?.seq == 9)
    }

    // MARK: Errors carry what is known

    @Test func errorsCarryRobotAndSeqOnceTheHeaderParses() {
        let failure = error([Self.bytes(#"{"v":2,"type":"step","robot":"r2","seq":11}"#)])
        #expect(failure?.code == .badHeader)
        #expect(failure?.robot == "r2" && failure?.seq == 11)
        let partial = error([Self.bytes(#"{"v":1,"type":"reset","robot":"bad id","seq":11}"#)])
        #expect(partial?.robot == nil && partial?.seq == 11)
    }

    // MARK: Replies

    @Test func actionRepliesHaveTheContractsKeysInAStableOrder() throws {
        let reply = ActionReply(
            robot: "arm-1", seq: 7, exit: 2, exits: 6, reason: .threshold, gflops: 0.1234,
            timing: StepTiming(queue: 12, infer: 2100, total: 2150), actionShape: [4],
            unknownWords: ["fridge", "qu\"ote"])
        let text = String(decoding: ReplyEncoder.action(reply), as: UTF8.self)
        #expect(text == #"{"v":1,"type":"action","robot":"arm-1","seq":7,"exit":2,"exits":6,"reason":"threshold","gflops":0.1234,"timing_us":{"queue":12,"infer":2100,"total":2150},"tensors":[{"name":"action","dtype":"float32","shape":[4]}],"unknown_words":["fridge","qu\"ote"]}"#)
        var plain = reply
        plain.unknownWords = []
        let plainText = String(decoding: ReplyEncoder.action(plain), as: UTF8.self)
        #expect(!plainText.contains("unknown_words"))
        // An independent parser reads it back.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(plainText.utf8)) as? [String: Any])
        #expect(object["reason"] as? String == "threshold")
        #expect((object["timing_us"] as? [String: Any])?["total"] as? Int == 2150)
    }

    @Test func aChunkReplyHasShapeHByAAndPeriodBeforeTensors() {
        let reply = ActionReply(
            robot: "arm-1", seq: 7, exit: 2, exits: 3, reason: .threshold, gflops: 0.5,
            timing: StepTiming(queue: 1, infer: 2, total: 3), actionShape: [8, 4], periodS: 0.05)
        let text = String(decoding: ReplyEncoder.action(reply), as: UTF8.self)
        #expect(text == #"{"v":1,"type":"action","robot":"arm-1","seq":7,"exit":2,"exits":3,"reason":"threshold","gflops":0.5,"timing_us":{"queue":1,"infer":2,"total":3},"period_s":0.05,"tensors":[{"name":"action","dtype":"float32","shape":[8,4]}]}"#)
    }

    @Test func otherRepliesHaveTheContractsKeys() {
        #expect(String(decoding: ReplyEncoder.pong(
            robot: nil, seq: 3, model: "default", modelSHA256: "ab12", version: "0.1.0", exits: 6,
            inputs: [TensorSpec(name: "image", dtype: .uint8, shape: [96, 96, 3])]), as: UTF8.self)
            == #"{"v":1,"type":"pong","robot":null,"seq":3,"model":"default","model_sha256":"ab12","version":"0.1.0","exits":6,"inputs":[{"name":"image","dtype":"uint8","shape":[96,96,3]}]}"#)
        #expect(String(decoding: ReplyEncoder.ok(robot: "r", seq: 0), as: UTF8.self)
            == #"{"v":1,"type":"ok","robot":"r","seq":0}"#)
        #expect(String(decoding: ReplyEncoder.error(WireError(.internalError, "model produced NaN", robot: "r", seq: UInt64.max)), as: UTF8.self)
            == #"{"v":1,"type":"error","robot":"r","seq":18446744073709551615,"code":"internal","message":"model produced NaN"}"#)
        #expect(String(decoding: ReplyEncoder.error(WireError(.badHeader, "header is not valid UTF-8")), as: UTF8.self)
            == #"{"v":1,"type":"error","robot":null,"seq":null,"code":"bad_header","message":"header is not valid UTF-8"}"#)
    }

    @Test func everyErrorCodeIsSpelledAsTheContractSays() {
        #expect(WireErrorCode.allCases.map(\.rawValue)
            == ["bad_header", "unknown_type", "bad_tensor", "too_large", "overloaded", "stale", "paused", "internal"])
    }

    @Test func replyStringsAreEscapedAndReadBackUnchanged() throws {
        let message = "quote \" backslash \\ newline \n tab \t bell \u{07} nul \u{00} é 日本 🤖 \u{2028}"
        let bytes = ReplyEncoder.error(WireError(.badTensor, message))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["message"] as? String == message)
        guard case .object(let fields) = try WireJSON.parse(bytes) else { Issue.record("not an object"); return }
        #expect(fields["message"] == .string(message))
    }

    @Test func replyNumbersRoundTrip() throws {
        for gflops in [0.0, 0.1, 1.0 / 3.0, 1e-7, 123_456.789, 2.5e300, Double.leastNonzeroMagnitude, 1e15, 42] {
            let reply = ActionReply(
                robot: "r", seq: 1, exit: 1, exits: 1, reason: .last, gflops: gflops,
                timing: StepTiming(queue: 0, infer: 0, total: 0), actionShape: [4])
            guard case .object(let fields) = try WireJSON.parse(ReplyEncoder.action(reply)),
                  case .number(let number) = fields["gflops"] else {
                Issue.record("no gflops")
                continue
            }
            #expect(number.double == gflops, "\(gflops) printed as \(number.text)")
        }
        let broken = ActionReply(
            robot: "r", seq: 1, exit: 1, exits: 1, reason: .last, gflops: .nan,
            timing: StepTiming(queue: 0, infer: 0, total: 0), actionShape: [4])
        #expect(String(decoding: ReplyEncoder.action(broken), as: UTF8.self).contains(#""gflops":null"#))
    }

    // MARK: JSON parsing

    @Test func jsonParserDecodesEscapesAndKeepsNumberLiterals() throws {
        let value = try WireJSON.parse(#"{"s":"a\"b\\c\/d\u00e9\ud83e\udd16\n","n":[0,-1.5e+3,18446744073709551615],"t":true,"z":null}"#)
        guard case .object(let fields) = value else { Issue.record("not an object"); return }
        #expect(fields["s"] == .string("a\"b\\c/dé🤖\n"))
        #expect(fields["t"] == .bool(true))
        #expect(fields["z"] == .null)
        guard case .array(let numbers) = fields["n"], case .number(let big) = numbers[2],
              case .number(let negative) = numbers[1] else { Issue.record("numbers"); return }
        #expect(big.uint64 == UInt64.max)
        #expect(negative.text == "-1.5e+3" && negative.double == -1500 && negative.uint64 == nil)
    }

    @Test func hostileObjectsWithThousandsOfKeysAreCheckedForDuplicates() throws {
        let keys = (0..<3000).map { #""k\#($0)":\#($0)"# }
        let unique = "{" + keys.joined(separator: ",") + "}"
        guard case .object(let object) = try WireJSON.parse(unique) else { Issue.record("not an object"); return }
        #expect(object.count == 3000)
        #expect(object["k2999"] == .number(JSONNumber(2999)))
        #expect(throws: JSONSyntaxError.self) { try WireJSON.parse("{" + keys.joined(separator: ",") + #","k17":0}"#) }
    }

    // MARK: docs/PROTOCOL.md

    /// The byte-level example of docs/PROTOCOL.md, exactly as printed there.
    @Test func theDocumentedExampleDecodesAndItsReplyEncodesByteForByte() throws {
        let header = #"{"v":1,"type":"step","robot":"arm-1","seq":42,"instruction":"open the drawer","tensors":[{"name":"image","dtype":"uint8","shape":[128,128,3]},{"name":"state","dtype":"float32","shape":[4]}]}"#
        #expect(header.utf8.count == 190)
        let state: [UInt8] = [0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x80, 0xBE, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3F]
        #expect(state == Self.floatBytes([0.5, -0.25, 0.0, 1.0]))
        let inputs = [TensorSpec(name: "image", dtype: .uint8, shape: [128, 128, 3]),
                      TensorSpec(name: "state", dtype: .float32, shape: [4])]
        let decoder = RequestDecoder(inputs: inputs, maxMessageBytes: 8_388_608)
        let frames: [[UInt8]] = [[0, 0x6B, 0x8B, 0x45, 0x67], Self.bytes(header), [UInt8](repeating: 0, count: 49152), state]
        let (envelope, body) = try #require(RoutingEnvelope.split(frames))
        #expect(envelope.count == 1)
        let request = try decoder.decode(body)
        #expect(request.header.seq == 42 && request.header.instruction == "open the drawer")

        let reply = ReplyEncoder.action(ActionReply(
            robot: "arm-1", seq: 42, exit: 3, exits: 6, reason: .threshold, gflops: 0.0841,
            timing: StepTiming(queue: 18, infer: 1840, total: 1902), actionShape: [4]))
        let documented = #"{"v":1,"type":"action","robot":"arm-1","seq":42,"exit":3,"exits":6,"reason":"threshold","gflops":0.0841,"timing_us":{"queue":18,"infer":1840,"total":1902},"tensors":[{"name":"action","dtype":"float32","shape":[4]}]}"#
        #expect(reply == Self.bytes(documented))
        #expect(reply.count == 215)
        #expect(Self.floatBytes([0.25, -1.0, 0.03125, 1.0])
            == [0x00, 0x00, 0x80, 0x3E, 0x00, 0x00, 0x80, 0xBF, 0x00, 0x00, 0x00, 0x3D, 0x00, 0x00, 0x80, 0x3F])
    }
}
