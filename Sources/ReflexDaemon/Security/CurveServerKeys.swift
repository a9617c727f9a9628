import Foundation
import ZeroMQ

/// The server's CURVE key pair and the public keys it admits, read from the files `reflexctl
/// keygen` writes: robots (`authorized_keys`, admitted on the policy and actions sockets) and
/// operators (`operator_keys`, admitted on the control socket only).
///
/// Checks follow OpenSSH's StrictModes: a key directory must be a real directory owned by root
/// or by the daemon's user and not writable by group or others; a key file must be a regular
/// file (not a symlink) with the same ownership and no group/other write bit. An unreadable or
/// unsafe directory is an error (nothing would be admitted, or anyone could add a key); an unsafe,
/// malformed or non-regular file in it is skipped and named in `skipped`.
struct CurveServerKeys {
    let server: CurveKeyPair
    let robotKeys: AuthorizedKeys
    let operatorKeys: AuthorizedKeys

    init(_ config: CurveConfig) throws {
        guard let secretPath = config.serverSecretKey, let robots = config.authorizedKeys, let operators = config.operatorKeys else {
            throw DaemonError(.keyFile, "security.curve needs server_secret_key, authorized_keys and operator_keys")
        }
        server = try CurveKeyPair(secretKey: try KeyFile.read(secretPath, secret: true))
        robotKeys = try AuthorizedKeys(directory: robots)
        operatorKeys = try AuthorizedKeys(directory: operators)
    }
}

/// The `*.public` keys of one directory, each with its file name (the key's identity in logs).
struct AuthorizedKeys: Equatable {
    let directory: String
    /// Z85 public key → file name without `.public` (e.g. "arm-1").
    let names: [String: String]
    /// Files that were not admitted, each with the reason ("arm-2.public: a symlink; ...").
    let skipped: [String]

    var keys: Set<String> { Set(names.keys) }

    init(directory: String) throws {
        self.directory = directory
        try FileSafety.check(directory, isDirectory: true)
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw DaemonError(.keyFile, "\(directory): cannot read the key directory (\(error.localizedDescription))")
        }
        var names: [String: String] = [:]
        var skipped: [String] = []
        for entry in entries.sorted() where entry.hasSuffix(".public") {
            let path = (directory as NSString).appendingPathComponent(entry)
            do {
                try FileSafety.check(path, isDirectory: false)
                let key = try KeyFile.read(path, secret: false)
                names[key] = String(entry.dropLast(".public".count))
            } catch {
                skipped.append("\(error)")
            }
        }
        self.names = names
        self.skipped = skipped
    }
}

/// OpenSSH-style ownership and permission checks on key files and directories.
enum FileSafety {
    /// Throws `DaemonError` (.keyFile) saying what is wrong with `path`: missing, a symlink, not a
    /// directory / not a regular file, owned by another user than root or the daemon's, or
    /// writable by group or others.
    static func check(_ path: String, isDirectory: Bool) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw DaemonError(.keyFile, "\(path): \(String(cString: strerror(errno)))")
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFLNK {
            throw DaemonError(.keyFile, "\(path): a symlink; key \(isDirectory ? "directories" : "files") must be the real \(isDirectory ? "directory" : "file")")
        }
        if isDirectory, kind != S_IFDIR { throw DaemonError(.keyFile, "\(path): not a directory") }
        if !isDirectory, kind != S_IFREG { throw DaemonError(.keyFile, "\(path): not a regular file") }
        let owner = info.st_uid
        if owner != 0, owner != geteuid() {
            throw DaemonError(.keyFile, "\(path): owned by uid \(owner), not by root or the daemon's user (uid \(geteuid()))")
        }
        let mode = info.st_mode & 0o7777
        if mode & 0o022 != 0 {
            throw DaemonError(.keyFile, "\(path): writable by group or others (mode \(String(mode, radix: 8))); run chmod go-w")
        }
    }
}

/// One-line Z85 key files (`NAME.public`, `NAME.secret`).
public enum KeyFile {
    public static func read(_ path: String, secret: Bool) throws -> String {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path),
              let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw DaemonError(.keyFile, "\(path): cannot read the key file")
        }
        if secret, let mode = (attrs[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw DaemonError(.keyFile, "\(path): a secret key file must not be readable by group or others (mode \(String(mode, radix: 8)); run chmod 600)")
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard CurveKeyPair.isValidKey(key) else { throw DaemonError(.keyFile, "\(path): not a 40-character Z85 key") }
        return key
    }

    /// Writes `NAME.public` (0644) and `NAME.secret` (0600) into `directory`.
    public static func writePair(_ pair: CurveKeyPair, directory: String, name: String) throws -> (String, String) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pub = (directory as NSString).appendingPathComponent("\(name).public")
        let sec = (directory as NSString).appendingPathComponent("\(name).secret")
        for p in [pub, sec] where FileManager.default.fileExists(atPath: p) {
            throw DaemonError(.keyFile, "\(p) exists; not overwriting a key")
        }
        guard FileManager.default.createFile(atPath: sec, contents: nil, attributes: [.posixPermissions: 0o600]),
              FileManager.default.createFile(atPath: pub, contents: nil, attributes: [.posixPermissions: 0o644]) else {
            throw DaemonError(.keyFile, "cannot write key files into \(directory)")
        }
        try Data((pair.secretKey + "\n").utf8).write(to: URL(fileURLWithPath: sec))
        try Data((pair.publicKey + "\n").utf8).write(to: URL(fileURLWithPath: pub))
        return (pub, sec)
    }
}
