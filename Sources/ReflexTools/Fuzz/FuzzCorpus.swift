import Foundation
import ReflexDaemon

/// The inputs a fuzz run mutates: wire messages (frames, routing identity first) and config
/// texts, each with a name saying what it is. `builtIn` holds valid ones, so a run needs no
/// files; `load(directory:)` adds the committed corpus of malformed ones
/// (`Tests/Fixtures/fuzz-corpus`, written by `tools/fuzz/make_corpus.py`).
public struct FuzzCorpus: Sendable {
    public var wire: [(name: String, frames: [[UInt8]])]
    public var config: [(name: String, text: [UInt8])]

    public init(wire: [(name: String, frames: [[UInt8]])] = [], config: [(name: String, text: [UInt8])] = []) {
        self.wire = wire
        self.config = config
    }

    /// Valid requests for the tiny fixture's inputs and valid configs.
    public static var builtIn: FuzzCorpus {
        FuzzCorpus(wire: FuzzSeeds.wire, config: FuzzSeeds.config)
    }

    /// `builtIn` plus the corpus files: `wire/*.bin` (`FuzzFraming`) and `config/*.yaml`, in
    /// name order so that a seed means the same run everywhere.
    public static func load(directory: String) throws -> FuzzCorpus {
        var corpus = FuzzCorpus.builtIn
        let root = URL(fileURLWithPath: directory)
        for (name, data) in try files(in: root.appendingPathComponent("wire"), ending: ".bin") {
            guard let frames = FuzzFraming.decode(Array(data)) else {
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: "\(directory)/wire/\(name)"])
            }
            corpus.wire.append((name, frames))
        }
        for (name, data) in try files(in: root.appendingPathComponent("config"), ending: ".yaml") {
            corpus.config.append((name, Array(data)))
        }
        return corpus
    }

    /// Adds a config file (e.g. the shipped `etc/reflexd.yaml`) as a seed.
    public mutating func addConfig(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        config.append((URL(fileURLWithPath: path).lastPathComponent, Array(data)))
    }

    private static func files(in folder: URL, ending suffix: String) throws -> [(String, Data)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(suffix) }.sorted()
        return try names.map { ($0, try Data(contentsOf: folder.appendingPathComponent($0))) }
    }
}
