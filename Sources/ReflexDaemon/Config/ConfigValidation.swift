import Foundation
import Logging
import ReflexEngine
import ReflexServing
import ZeroMQ
import Yams

/// Walks a composed config document section by section, building a `DaemonConfig` from what is
/// valid and recording a located problem for everything that is not.
struct ConfigValidation {
    private var reader: ConfigNodeReader
    private let file: String
    private let baseDirectory: URL
    private let checkFiles: Bool
    /// Open the bundle and read the keys as start-up does (`--check-config`).
    private let openFiles: Bool

    var problems: [ConfigProblem] { reader.problems }

    init(file: String, checkFiles: Bool, openFiles: Bool = false) {
        self.reader = ConfigNodeReader(file: file)
        self.file = file
        self.baseDirectory = ConfigPaths.directory(ofConfigFile: file)
        self.checkFiles = checkFiles
        self.openFiles = openFiles
    }

    /// The config when it is valid; nil (with problems recorded) when it is not.
    mutating func validate(_ root: Node?) -> DaemonConfig? {
        guard let root, ConfigNodeReader.tagName(root) != .null else {
            reader.report(at: nil, "the config is empty; it needs at least 'model: DIR' (the model bundle)")
            return nil
        }
        let top = reader.section(root, path: "", keys: ConfigRules.rootKeys)
        let model = readModel(top)
        let security = readSecurity(top)
        let endpoints = readEndpoints(top, curveEnabled: security.curve.enabled)
        let budget = readBudget(top)
        let scheduler = readScheduler(top)
        let engine = readEngine(top)
        let limits = readLimits(top)
        let logging = readLogging(top)
        let metrics = ObservabilityConfigReader.metrics(top, reader: &reader)
        let trace = ObservabilityConfigReader.trace(top, reader: &reader, baseDirectory: baseDirectory, checkFiles: checkFiles)
        guard let model else { return nil }
        return DaemonConfig(
            file: file, model: model, endpoints: endpoints, budget: budget, scheduler: scheduler,
            engine: engine, limits: limits, logging: logging, security: security, metrics: metrics, trace: trace)
    }

    // MARK: Sections

    private mutating func readModel(_ top: ConfigNodeReader.Section) -> String? {
        guard top.value("model") != nil else {
            reader.report(at: top.mark, "model: missing; set it to the model bundle directory (e.g. model: ../models/default)")
            return nil
        }
        guard let path = reader.string(top, "model") else { return nil }
        let resolved = ConfigPaths.resolve(path, against: baseDirectory)
        if checkFiles, !isDirectory(resolved) {
            reader.report(at: top.value("model")?.mark, "model: no model bundle directory at \(resolved)")
        } else if openFiles {
            // Opened whole (manifest, weights, calibration, their checks), as start-up opens it:
            // a bundle that passes here but not there would make --check-config lie.
            do { _ = try ModelBundle(directory: resolved) } catch {
                reader.report(at: top.value("model")?.mark, "model: \(resolved) cannot be loaded: \(error)")
            }
        }
        return resolved
    }

    private mutating func readEndpoints(_ top: ConfigNodeReader.Section, curveEnabled: Bool) -> EndpointsConfig {
        let section = reader.section(top.value("endpoints"), path: "endpoints", keys: ConfigRules.endpointKeys)
        var endpoints = EndpointsConfig()
        var seen: [String: String] = [:]  // endpoint -> key that bound it first
        for key in ConfigRules.endpointKeys {
            guard let text = reader.string(section, key) else { continue }
            let mark = section.value(key)?.mark
            switch EndpointAddress.parse(text, baseDirectory: baseDirectory) {
            case .failure(let problem):
                reader.report(at: mark, "\(section.keyPath(key)): \(problem.reason)")
            case .success(let address):
                if let other = seen[address.endpoint] {
                    reader.report(at: mark, "\(section.keyPath(key)): same endpoint as endpoints.\(other); each socket needs its own")
                }
                seen[address.endpoint] = seen[address.endpoint] ?? key
                // The control socket changes budgets and pauses robots: never open to the network
                // without authentication (CONTRACT section 4).
                if key == "control", !address.isLocalOnly, !curveEnabled {
                    reader.report(
                        at: mark,
                        "endpoints.control: \(text) is reachable from other machines; bind it to 127.0.0.1 or ipc://, or enable security.curve")
                }
                switch key {
                case "policy": endpoints.policy = address.endpoint
                case "actions": endpoints.actions = address.endpoint
                default: endpoints.control = address.endpoint
                }
            }
        }
        return endpoints
    }

    private mutating func readBudget(_ top: ConfigNodeReader.Section) -> BudgetConfig {
        let section = reader.section(top.value("budget"), path: "budget", keys: ConfigRules.budgetKeys)
        var budget = BudgetConfig()
        let fraction = reader.number(section, "average_fraction", ConfigRules.averageFraction)
        let gflops = reader.number(section, "average_gflops", ConfigRules.averageGflops)
        if section.value("average_fraction") != nil, section.value("average_gflops") != nil {
            // Point at whichever of the two comes second: that is the line to delete.
            let marks = [section.keyMark("average_fraction"), section.keyMark("average_gflops")].compactMap { $0 }
            let second = marks.max { ($0.line, $0.column) < ($1.line, $1.column) }
            reader.report(at: second, "budget: set average_fraction or average_gflops, not both")
        } else if let gflops {
            budget.average = .gflops(gflops)
        } else if let fraction {
            budget.average = .fraction(fraction)
        }
        budget.deadlineMs = reader.number(section, "deadline_ms", ConfigRules.deadlineMs)
        budget.memoryMB = reader.number(section, "memory_mb", ConfigRules.memoryMB)
        return budget
    }

    private mutating func readScheduler(_ top: ConfigNodeReader.Section) -> SchedulerConfig {
        let section = reader.section(top.value("scheduler"), path: "scheduler", keys: ConfigRules.schedulerKeys)
        var scheduler = SchedulerConfig()
        if let mode = reader.choice(section, "mode", SchedulerMode.allCases.map(\.rawValue)) {
            scheduler.mode = SchedulerMode(rawValue: mode)!
        }
        if let rate = reader.number(section, "probe_rate", ConfigRules.probeRate) { scheduler.probeRate = rate }
        if let window = reader.integer(section, "window", ConfigRules.window) { scheduler.window = window }
        return scheduler
    }

    private mutating func readEngine(_ top: ConfigNodeReader.Section) -> EngineConfig {
        let section = reader.section(top.value("engine"), path: "engine", keys: ConfigRules.engineKeys)
        var engine = EngineConfig()
        if let threads = reader.integer(section, "threads", ConfigRules.threads) { engine.threads = threads }
        return engine
    }

    private mutating func readLimits(_ top: ConfigNodeReader.Section) -> LimitsConfig {
        let section = reader.section(top.value("limits"), path: "limits", keys: ConfigRules.limitsKeys)
        var limits = LimitsConfig()
        if let bytes = reader.integer(section, "max_message_bytes", ConfigRules.maxMessageBytes) {
            limits.maxMessageBytes = bytes
        }
        if let sessions = reader.integer(section, "max_sessions", ConfigRules.maxSessions) {
            limits.maxSessions = sessions
        }
        if let idle = reader.number(section, "session_idle_s", ConfigRules.sessionIdleS) { limits.sessionIdleS = idle }
        if let pending = reader.integer(section, "pending_per_robot", ConfigRules.pendingPerRobot) {
            limits.pendingPerRobot = pending
        }
        return limits
    }

    private mutating func readLogging(_ top: ConfigNodeReader.Section) -> LoggingConfig {
        let section = reader.section(top.value("logging"), path: "logging", keys: ConfigRules.loggingKeys)
        var logging = LoggingConfig()
        if let level = reader.choice(section, "level", ConfigRules.logLevels) {
            logging.level = Logger.Level(rawValue: level)!
        }
        return logging
    }

    private mutating func readSecurity(_ top: ConfigNodeReader.Section) -> SecurityConfig {
        let security = reader.section(top.value("security"), path: "security", keys: ConfigRules.securityKeys)
        let section = reader.section(security.value("curve"), path: "security.curve", keys: ConfigRules.curveKeys)
        var curve = CurveConfig()
        curve.enabled = reader.bool(section, "enabled") ?? false
        curve.serverSecretKey = reader.string(section, "server_secret_key").map {
            ConfigPaths.resolve($0, against: baseDirectory)
        }
        curve.authorizedKeys = reader.string(section, "authorized_keys").map {
            ConfigPaths.resolve($0, against: baseDirectory)
        }
        curve.operatorKeys = reader.string(section, "operator_keys").map {
            ConfigPaths.resolve($0, against: baseDirectory)
        }
        if curve.enabled {
            let mark = section.value("enabled")?.mark
            for key in ["server_secret_key", "authorized_keys", "operator_keys"] where section.value(key) == nil {
                reader.report(at: mark, "security.curve.\(key): required when security.curve.enabled is true")
            }
            // With openFiles, read as start-up reads them (modes, owners, symlinks: the pieces of
            // CurveServerKeys, one per key so that each is reported at its own line), so that a
            // key --check-config passes is one the daemon starts with.
            if checkFiles, let key = curve.serverSecretKey {
                if !isRegularFile(key) {
                    reader.report(at: section.value("server_secret_key")?.mark, "security.curve.server_secret_key: no such file: \(key)")
                } else if openFiles {
                    do { _ = try CurveKeyPair(secretKey: try KeyFile.read(key, secret: true)) } catch {
                        reader.report(at: section.value("server_secret_key")?.mark, "security.curve.server_secret_key: \(error)")
                    }
                }
            }
            for (key, directory) in [("authorized_keys", curve.authorizedKeys), ("operator_keys", curve.operatorKeys)] {
                guard checkFiles, let directory else { continue }
                if !isDirectory(directory) {
                    reader.report(at: section.value(key)?.mark, "security.curve.\(key): no such directory: \(directory)")
                } else if openFiles {
                    do { _ = try AuthorizedKeys(directory: directory) } catch {
                        reader.report(at: section.value(key)?.mark, "security.curve.\(key): \(error)")
                    }
                }
            }
        }
        return SecurityConfig(curve: curve)
    }

    // MARK: Files

    private func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    private func isRegularFile(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && !directory.boolValue
    }
}
