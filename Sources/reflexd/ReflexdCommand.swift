import ArgumentParser
import Foundation
import Logging
import ReflexDaemon

@main
struct ReflexdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reflexd",
        abstract: "Serves a multi-exit vision-language-action policy over ZeroMQ within a compute budget.",
        version: ReflexVersion.string)

    @Option(help: "Config file.") var config = "etc/reflexd.yaml"
    @Option(name: .customLong("check-config"), help: "Validate a config file and exit (0 ok, 1 with FILE:LINE:COL messages).")
    var checkConfig: String?
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical); overrides the config.")
    var logLevel: String?

    func run() throws {
        if let path = checkConfig { throw ExitCode(DaemonRunner.checkConfig(path)) }
        var level: Logger.Level?
        if let l = logLevel {
            guard let parsed = Logger.Level(rawValue: l) else { throw ValidationError("unknown log level '\(l)'") }
            level = parsed
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .trace  // the logger's own level filters
            return h
        }
        throw ExitCode(DaemonRunner.serve(configPath: config, logLevel: level))
    }
}
