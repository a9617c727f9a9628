import Foundation
import ZeroMQ

/// The server's CURVE key pair and the allowed clients' public keys, read from the files
/// `reflexctl keygen` writes. The secret key file must not be readable by group or others.
struct CurveServerKeys {
    let server: CurveKeyPair
    let clientKeys: Set<String>

    init(_ config: CurveConfig) throws {
        guard let secretPath = config.serverSecretKey, let dir = config.authorizedKeys else {
            throw KeyFileError("security.curve needs server_secret_key and authorized_keys")
        }
        server = try CurveKeyPair(secretKey: try KeyFile.read(secretPath, secret: true))
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        var keys = Set<String>()
        for name in names.sorted() where name.hasSuffix(".public") {
            keys.insert(try KeyFile.read((dir as NSString).appendingPathComponent(name), secret: false))
        }
        clientKeys = keys
    }
}

/// One-line Z85 key files (`NAME.public`, `NAME.secret`).
public enum KeyFile {
    public static func read(_ path: String, secret: Bool) throws -> String {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path),
              let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw KeyFileError("\(path): cannot read the key file")
        }
        if secret, let mode = (attrs[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw KeyFileError("\(path): a secret key file must not be readable by group or others (mode \(String(mode, radix: 8)); run chmod 600)")
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard CurveKeyPair.isValidKey(key) else { throw KeyFileError("\(path): not a 40-character Z85 key") }
        return key
    }

    /// Writes `NAME.public` (0644) and `NAME.secret` (0600) into `directory`.
    public static func writePair(_ pair: CurveKeyPair, directory: String, name: String) throws -> (String, String) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pub = (directory as NSString).appendingPathComponent("\(name).public")
        let sec = (directory as NSString).appendingPathComponent("\(name).secret")
        for p in [pub, sec] where FileManager.default.fileExists(atPath: p) {
            throw KeyFileError("\(p) exists; not overwriting a key")
        }
        guard FileManager.default.createFile(atPath: sec, contents: nil, attributes: [.posixPermissions: 0o600]),
              FileManager.default.createFile(atPath: pub, contents: nil, attributes: [.posixPermissions: 0o644]) else {
            throw KeyFileError("cannot write key files into \(directory)")
        }
        try Data((pair.secretKey + "\n").utf8).write(to: URL(fileURLWithPath: sec))
        try Data((pair.publicKey + "\n").utf8).write(to: URL(fileURLWithPath: pub))
        return (pub, sec)
    }
}

public struct KeyFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
