/// Keys and ranges of the `metrics` and `trace` sections.
extension ConfigRules {
    static let metricsKeys = ["listen"]
    static let traceKeys = ["path", "max_bytes", "keep", "buffer_lines"]
    /// 4 KiB to 64 GiB: a smaller file would rotate every few steps.
    static let traceMaxBytes = IntegerRule(range: 4096...(64 << 30))
    static let traceKeep = IntegerRule(range: 0...100)
    static let traceBufferLines = IntegerRule(range: 1...1_048_576)
}
