import Foundation
import Logging

/// What `reflexd` does, apart from parsing its arguments: check a config, or load it and serve.
public enum DaemonRunner {
    /// sysexits(3) EX_CONFIG: the unit file's RestartPreventExitStatus, so a broken config or
    /// model does not restart in a loop.
    public static let exitConfig: Int32 = 78

    /// `reflexd --check-config FILE`: 0, or 1 with `FILE:LINE:COLUMN: message` lines on stderr.
    public static func checkConfig(_ path: String) -> Int32 {
        do {
            let config = try ConfigLoader.load(path: path, checkFiles: true, openFiles: true)
            print("\(path): ok (model \(config.model))")
            return 0
        } catch {
            printProblems(error)
            return 1
        }
    }

    static func printProblems(_ error: Error) {
        let text = (error as? ConfigError).map { $0.problems.map(\.description).joined(separator: "\n") } ?? "\(error)"
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Loads the config and serves until SIGTERM/SIGINT; returns the process exit status.
    public static func serve(configPath: String, logLevel: Logger.Level?) -> Int32 {
        let signals = SignalMonitor()  // before anything else, so an early SIGTERM is not lost
        let config: DaemonConfig
        do {
            config = try ConfigLoader.load(path: configPath, checkFiles: true)
        } catch {
            printProblems(error)
            return exitConfig
        }
        var logger = Logger(label: "reflexd")
        logger.logLevel = logLevel ?? config.logging.level
        let notifier = SystemdNotifier()
        let server: PolicyServer
        do {
            server = try PolicyServer(config: config, logger: logger, signals: signals, notifier: notifier)
        } catch {
            // A model, key or endpoint the config names cannot be used: restarting will not help.
            logger.critical("cannot serve", metadata: ["error": "\(error)", "config": "\(configPath)"])
            notifier.status("failed: \(error)")
            return exitConfig
        }
        do {
            try server.run()
            return 0
        } catch {
            // A fault while serving (e.g. the CURVE handler died): exit 1 so that systemd restarts us.
            logger.critical("stopped serving", metadata: ["error": "\(error)"])
            notifier.status("failed: \(error)")
            return 1
        }
    }
}
