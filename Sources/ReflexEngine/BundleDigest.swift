import Crypto
import Foundation

/// The SHA-256 that names a bundle's exact bytes (`ModelBundle.sha256`), computed with
/// swift-crypto (BoringSSL's SHA-256 on Linux) and remembered per file identity, so that a
/// bundle opened again — a memory cap that moves, a reload of the same model, on the serving
/// thread — is not read again in full.
enum BundleDigest {
    /// Hex SHA-256 of the files' bytes concatenated in order (`cat FILES | sha256sum`).
    /// Throws `EngineError.missingFile` for a file that cannot be opened.
    ///
    /// Cached by every file's device, inode, size and modification time (nanoseconds): a file
    /// replaced or rewritten gets a new identity, whatever path reaches it. (A rewrite in place that keeps the size
    /// and the nanosecond mtime would not be noticed; bundles are replaced, not edited.)
    static func hexDigest(ofFiles paths: [String]) throws -> String {
        let identity = try paths.map(fileIdentity).joined(separator: "\n")
        if let known = cache.value(for: identity) { return known }
        var hasher = SHA256()
        for path in paths {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw EngineError.missingFile(path) }
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
            }
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        cache.store(digest, for: identity)
        return digest
    }

    private static func fileIdentity(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw EngineError.missingFile(path) }
        return "\(info.st_dev)|\(info.st_ino)|\(info.st_size)|\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    private static let cache = DigestCache(capacity: 16)
}

/// A small thread-safe map from file identities to digests; the oldest entry goes past `capacity`.
private final class DigestCache: @unchecked Sendable {
    private let lock = NSLock()
    private let capacity: Int
    private var entries: [(key: String, digest: String)] = []

    init(capacity: Int) { self.capacity = capacity }

    func value(for key: String) -> String? {
        lock.lock(); defer { lock.unlock() }
        return entries.first { $0.key == key }?.digest
    }

    func store(_ digest: String, for key: String) {
        lock.lock(); defer { lock.unlock() }
        entries.removeAll { $0.key == key }
        entries.append((key, digest))
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
    }
}
