import Foundation

/// Writes the per-step trace (config `trace`) as JSON lines, rotated by size, from its own
/// thread. The serving thread only appends a record to a bounded buffer under a short lock;
/// when the buffer is full the record is dropped and counted, so a slow disk never delays a step.
final class StepTraceWriter: @unchecked Sendable {
    let config: TraceConfig
    private let condition = NSCondition()
    private var pending: [StepTraceRecord] = []
    private var closing = false
    private var droppedCount = 0
    private var writtenCount = 0
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    /// How often the writer thread looks for lines to write, seconds.
    let flushInterval: Double
    private var file: FileHandle
    private var fileBytes: Int

    /// Opens (appends to) the trace file; throws when it cannot be created.
    init(config: TraceConfig, flushInterval: Double = 0.1) throws {
        self.config = config
        self.flushInterval = flushInterval
        (file, fileBytes) = try Self.open(config.path)
        pending.reserveCapacity(config.bufferLines)
    }

    func start() {
        let t = Thread { [self] in drainLoop() }
        t.name = "reflexd-trace"
        thread = t
        t.start()
    }

    /// Lines dropped because the buffer was full, since start.
    var dropped: Int { condition.lock(); defer { condition.unlock() }; return droppedCount }
    /// Lines written to disk, since start.
    var written: Int { condition.lock(); defer { condition.unlock() }; return writtenCount }

    /// Queues one record; never waits for the disk.
    func submit(_ record: StepTraceRecord) {
        condition.lock()
        if pending.count < config.bufferLines {
            pending.append(record)
            // The writer wakes by itself every `flushInterval`; waking it per step would cost
            // the serving thread a futex call and a context switch each time.
            if pending.count == max(1, config.bufferLines / 2) { condition.signal() }
        } else {
            droppedCount += 1
        }
        condition.unlock()
    }

    /// Writes what is queued and stops the thread (waits at most `timeoutSeconds`).
    func close(timeoutSeconds: Double = 0.5) {
        condition.lock()
        closing = true
        condition.signal()
        condition.unlock()
        if thread != nil { _ = done.wait(timeout: .now() + timeoutSeconds) }
    }

    private func drainLoop() {
        var batch: [StepTraceRecord] = []
        batch.reserveCapacity(config.bufferLines)
        while true {
            condition.lock()
            // Batches: one wake-up and one write per interval, sooner only when half full.
            if !closing && pending.count < max(1, config.bufferLines / 2) {
                _ = condition.wait(until: Date(timeIntervalSinceNow: flushInterval))
            }
            let last = closing
            swap(&batch, &pending)
            condition.unlock()
            // One write per batch, cut where the file reaches max_bytes.
            var chunk = Data()
            for r in batch {
                let line = Data(r.jsonLine().utf8)
                if fileBytes + chunk.count > 0, fileBytes + chunk.count + line.count > config.maxBytes {
                    write(chunk)
                    chunk.removeAll(keepingCapacity: true)
                    rotate()
                }
                chunk.append(line)
            }
            let lines = batch.count
            batch.removeAll(keepingCapacity: true)
            if !chunk.isEmpty { write(chunk) }
            condition.lock()
            writtenCount += lines
            condition.unlock()
            if last && lines == 0 { break }
        }
        try? file.close()
        done.signal()
    }

    private func write(_ data: Data) {
        guard !data.isEmpty else { return }
        do {
            try file.write(contentsOf: data)
            fileBytes += data.count
        } catch {
            FileHandle.standardError.write(Data("reflexd: trace write failed: \(error)\n".utf8))
        }
    }

    /// PATH → PATH.1 → … → PATH.keep (the oldest goes), then a new PATH.
    private func rotate() {
        try? file.close()
        let fm = FileManager.default
        let path = config.path
        if config.keep == 0 {
            try? fm.removeItem(atPath: path)
        } else {
            try? fm.removeItem(atPath: "\(path).\(config.keep)")
            for i in stride(from: config.keep - 1, through: 1, by: -1) {
                try? fm.moveItem(atPath: "\(path).\(i)", toPath: "\(path).\(i + 1)")
            }
            try? fm.moveItem(atPath: path, toPath: "\(path).1")
        }
        if let (f, n) = try? Self.open(path) { (file, fileBytes) = (f, n) }
    }

    private static func open(_ path: String) throws -> (FileHandle, Int) {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            guard fm.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        guard let f = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        let end = try f.seekToEnd()
        return (f, Int(end))
    }
}
