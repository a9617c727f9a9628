import Foundation

/// Reading the `metrics` and `trace` sections (kept apart from the serving sections).
enum ObservabilityConfigReader {
    static func metrics(_ top: ConfigNodeReader.Section, reader: inout ConfigNodeReader) -> MetricsConfig? {
        guard top.value("metrics") != nil else { return nil }
        let section = reader.section(top.value("metrics"), path: "metrics", keys: ConfigRules.metricsKeys)
        guard section.value("listen") != nil else {
            reader.report(at: top.keyMark("metrics"), "metrics.listen: missing; set HOST:PORT (e.g. 127.0.0.1:9464) or remove the metrics section")
            return nil
        }
        guard let text = reader.string(section, "listen") else { return nil }
        switch MetricsConfig.parse(text) {
        case .success(let metrics): return metrics
        case .failure(let problem):
            reader.report(at: section.value("listen")?.mark, "metrics.listen: \(problem.reason)")
            return nil
        }
    }

    static func trace(_ top: ConfigNodeReader.Section, reader: inout ConfigNodeReader, baseDirectory: URL,
                      checkFiles: Bool) -> TraceConfig? {
        guard top.value("trace") != nil else { return nil }
        let section = reader.section(top.value("trace"), path: "trace", keys: ConfigRules.traceKeys)
        guard section.value("path") != nil else {
            reader.report(at: top.keyMark("trace"), "trace.path: missing; set the trace file (e.g. /var/log/reflexd/trace.jsonl) or remove the trace section")
            return nil
        }
        guard let path = reader.string(section, "path") else { return nil }
        var trace = TraceConfig(path: ConfigPaths.resolve(path, against: baseDirectory))
        if checkFiles {
            let folder = (trace.path as NSString).deletingLastPathComponent
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) || !isDirectory.boolValue {
                reader.report(at: section.value("path")?.mark, "trace.path: no such directory: \(folder) (create it, writable by the service user)")
            }
        }
        if let v = reader.integer(section, "max_bytes", ConfigRules.traceMaxBytes) { trace.maxBytes = v }
        if let v = reader.integer(section, "keep", ConfigRules.traceKeep) { trace.keep = v }
        if let v = reader.integer(section, "buffer_lines", ConfigRules.traceBufferLines) { trace.bufferLines = v }
        return trace
    }
}
