import Foundation

/// A bundle directory held open while it is read. Every file is read relative to the directory
/// the path named when opening began, so a bundle replaced while it is loaded (a new bundle
/// renamed into place during a reload) is read whole — all old or all new, never half of each.
/// On Linux files are reached through `/proc/self/fd/N/NAME`; elsewhere by path (no such promise).
final class BundleDirectory {
    /// The directory as the caller named it (for messages).
    let path: String
    private let fd: Int32

    /// Throws `EngineError.missingFile` when `path` is not a directory that can be opened.
    init(_ path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw EngineError.missingFile("\(path): no such bundle directory") }
    }

    deinit { close(fd) }

    /// `NAME` as the caller knows it (`DIR/NAME`), for messages.
    func displayPath(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// The path through which `name` in the opened directory is read. Throws
    /// `EngineError.missingFile` (naming `DIR/NAME`) when there is no such file.
    func readPath(_ name: String) throws -> String {
        guard faccessat(fd, name, R_OK, 0) == 0 else { throw EngineError.missingFile(displayPath(name)) }
        #if os(Linux)
        return "/proc/self/fd/\(fd)/\(name)"
        #else
        return displayPath(name)
        #endif
    }
}
