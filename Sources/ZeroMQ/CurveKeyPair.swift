import CZeroMQ

/// A CurveZMQ key pair as 40-character Z85 strings, and the Z85 codec (ZeroMQ RFC 32).
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    /// The Z85 alphabet, in value order.
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// A fresh random key pair (needs libzmq built with CURVE: `hasCapability("curve")`).
    public static func generate() throws -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: Self.string(publicKey), secretKey: Self.string(secretKey))
    }

    /// The pair of a known secret key, its public key derived with `zmq_curve_public`.
    public init(secretKey: String) throws {
        guard Self.isValidKey(secretKey) else {
            throw ZMQError.invalidArgument("not a 40-character Z85 CURVE key", operation: "zmq_curve_public")
        }
        var publicKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicKey, secretKey) == 0 else { throw ZMQError.last("zmq_curve_public") }
        self.init(publicKey: Self.string(publicKey), secretKey: secretKey)
    }

    private init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// True for a 40-character Z85 string that decodes to 32 bytes.
    public static func isValidKey(_ key: String) -> Bool {
        key.utf8.count == 40 && (try? z85Decode(key)) != nil
    }

    /// Z85-encodes `bytes`; their count must be a multiple of 4.
    public static func z85Encode(_ bytes: [UInt8]) throws -> String {
        guard bytes.count % 4 == 0 else {
            throw ZMQError.invalidArgument("Z85 encodes a multiple of 4 bytes, got \(bytes.count)", operation: "zmq_z85_encode")
        }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        guard zmq_z85_encode(&text, bytes, bytes.count) != nil else { throw ZMQError.last("zmq_z85_encode") }
        return string(text)
    }

    /// Decodes Z85 text; its length must be a multiple of 5 and every character in the alphabet.
    public static func z85Decode(_ text: String) throws -> [UInt8] {
        let characters = Array(text.utf8)
        guard characters.count % 5 == 0 else {
            throw ZMQError.invalidArgument("Z85 text length must be a multiple of 5, got \(characters.count)", operation: "zmq_z85_decode")
        }
        guard characters.allSatisfy({ alphabet.contains($0) }) else {
            throw ZMQError.invalidArgument("character outside the Z85 alphabet", operation: "zmq_z85_decode")
        }
        if characters.isEmpty { return [] }
        var bytes = [UInt8](repeating: 0, count: characters.count / 5 * 4)
        guard zmq_z85_decode(&bytes, text) != nil else {
            throw ZMQError.invalidArgument("Z85 group value out of range", operation: "zmq_z85_decode")
        }
        return bytes
    }

    private static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
