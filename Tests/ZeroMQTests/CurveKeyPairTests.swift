import Testing
import ZeroMQ

@Suite struct CurveKeyPairTests {
    @Test func z85MatchesTheRFC32TestVector() throws {
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(try CurveKeyPair.z85Encode(bytes) == "HelloWorld")
        #expect(try CurveKeyPair.z85Decode("HelloWorld") == bytes)
    }

    @Test func z85RoundTripsArbitraryBytes() throws {
        var generator = SystemRandomNumberGenerator()
        for count in [0, 4, 32, 64] {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = try CurveKeyPair.z85Encode(bytes)
            #expect(text.count == count / 4 * 5)
            #expect(try CurveKeyPair.z85Decode(text) == bytes)
        }
    }

    @Test func z85RejectsBadInput() {
        #expect(throws: ZMQError.self) { try CurveKeyPair.z85Encode([1, 2, 3]) }
        #expect(throws: ZMQError.self) { try CurveKeyPair.z85Decode("Hell") }
        #expect(throws: ZMQError.self) { try CurveKeyPair.z85Decode("Hello Worl") }
        #expect(throws: ZMQError.self) { try CurveKeyPair.z85Decode("#####") }
        #expect(throws: ZMQError.self) { try CurveKeyPair.z85Decode("Hello\u{0}orld") }
    }

    @Test func publicKeyDerivedFromTheSecretMatchesTheGeneratedOne() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.utf8.count == 40)
        #expect(pair.secretKey.utf8.count == 40)
        #expect(CurveKeyPair.isValidKey(pair.publicKey))
        #expect(try CurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(try CurveKeyPair.z85Decode(pair.publicKey).count == 32)
        #expect(try CurveKeyPair.generate() != pair)
    }

    @Test func invalidSecretKeysAreRejected() {
        #expect(!CurveKeyPair.isValidKey("short"))
        #expect(!CurveKeyPair.isValidKey(String(repeating: " ", count: 40)))
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: "short") }
    }
}
