import Foundation

/// Resolves paths written in a config file. Relative paths are relative to the folder of the
/// config file (CONTRACT section 4), not to the daemon's working directory, which under
/// systemd is `/`.
enum ConfigPaths {
    /// The folder holding the config file, made absolute against the working directory.
    static func directory(ofConfigFile path: String) -> URL {
        URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
    }

    /// `path` made absolute against `base` (when relative), with `.` and `..` removed.
    static func resolve(_ path: String, against base: URL?) -> String {
        let url: URL
        if path.hasPrefix("/") {
            url = URL(fileURLWithPath: path)
        } else if let base {
            url = URL(fileURLWithPath: path, relativeTo: base)
        } else {
            url = URL(fileURLWithPath: path)
        }
        var resolved = url.standardizedFileURL.path
        if resolved.count > 1, resolved.hasSuffix("/") { resolved.removeLast() }
        return resolved
    }
}
