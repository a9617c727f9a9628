/// The `trace` section: an optional per-step trace, one JSON line per served step. Absent = off.
public struct TraceConfig: Sendable, Equatable {
    /// Absolute path of the trace file (relative paths in the config are resolved against the
    /// config file's folder). Rotated files are `PATH.1` (newest) to `PATH.<keep>`.
    public var path: String
    /// Size in bytes past which the file is rotated. Default 64 MiB.
    public var maxBytes: Int
    /// How many rotated files are kept besides the live one. Default 3.
    public var keep: Int
    /// Steps waiting to be written; past this the serving loop drops lines (counted) rather
    /// than wait. Default 8192.
    public var bufferLines: Int

    public init(path: String, maxBytes: Int = 64 << 20, keep: Int = 3, bufferLines: Int = 8192) {
        self.path = path
        self.maxBytes = maxBytes
        self.keep = keep
        self.bufferLines = bufferLines
    }
}
