import Foundation
import Logging
import ReflexServing
import ReflexWire
import Testing

@testable import ReflexDaemon

/// The config format of CONTRACT section 4: what loads, what defaults, and exactly where each
/// kind of problem is reported.
@Suite struct ConfigTests {
    /// A config file path in a folder that exists nowhere: the loader only uses it for names
    /// and for resolving relative paths.
    static let path = "/srv/reflex/etc/reflexd.yaml"

    /// Problems as `reflexd --check-config` prints them, one string per problem.
    func problems(_ yaml: String, path: String = ConfigTests.path, checkFiles: Bool = false, openFiles: Bool = false) -> [String] {
        do {
            _ = try ConfigLoader.load(yaml: yaml, path: path, checkFiles: checkFiles, openFiles: openFiles)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    func load(_ yaml: String, path: String = ConfigTests.path) throws -> DaemonConfig {
        try ConfigLoader.load(yaml: yaml, path: path)
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    // MARK: The shipped file

    @Test func shippedConfigLoadsWithTheContractValues() throws {
        let file = Self.repositoryRoot.appendingPathComponent("etc/reflexd.yaml").path
        let config = try ConfigLoader.load(path: file)
        #expect(config.file == file)
        #expect(config.model == Self.repositoryRoot.appendingPathComponent("models/default").standardizedFileURL.path)
        #expect(config.endpoints == EndpointsConfig(
            policy: "tcp://127.0.0.1:5555", actions: "tcp://127.0.0.1:5556", control: "tcp://127.0.0.1:5557"))
        #expect(config.budget == BudgetConfig(average: .fraction(0.4), deadlineMs: 50, memoryMB: 256))
        #expect(config.scheduler == SchedulerConfig(mode: .online, probeRate: 0.02, window: 512))
        #expect(config.engine.threads == 1)
        #expect(config.limits == LimitsConfig(
            maxMessageBytes: 8_388_608, maxSessions: 64, sessionIdleS: 60, pendingPerRobot: 1))
        #expect(config.logging.level == .info)
        #expect(config.security.curve == CurveConfig(
            enabled: false, serverSecretKey: "/etc/reflexd/keys/server.secret",
            authorizedKeys: "/etc/reflexd/keys/clients", operatorKeys: "/etc/reflexd/keys/operators"))
    }

    // MARK: Defaults and paths

    @Test func absentKeysTakeTheDocumentedDefaults() throws {
        let config = try load("model: bundle\n")
        #expect(config.model == "/srv/reflex/etc/bundle")
        #expect(config.endpoints == EndpointsConfig(
            policy: "tcp://127.0.0.1:5555", actions: "tcp://127.0.0.1:5556", control: "tcp://127.0.0.1:5557"))
        #expect(config.budget == BudgetConfig(average: .fraction(1.0), deadlineMs: nil, memoryMB: nil))
        #expect(config.scheduler == SchedulerConfig(mode: .online, probeRate: 0.02, window: 512))
        #expect(config.engine == EngineConfig(threads: 1))
        #expect(config.limits == LimitsConfig(
            maxMessageBytes: 8_388_608, maxSessions: 64, sessionIdleS: 60, pendingPerRobot: 1))
        #expect(config.logging.level == .info)
        #expect(config.security.curve == CurveConfig(enabled: false, serverSecretKey: nil, authorizedKeys: nil))
    }

    @Test func nullValuesAndEmptySectionsMeanTheDefault() throws {
        let config = try load("""
            model: m
            budget:
              deadline_ms: ~
            scheduler:
            engine: null
            """)
        #expect(config.budget.deadlineMs == nil)
        #expect(config.scheduler == SchedulerConfig())
        #expect(config.engine == EngineConfig())
    }

    @Test func everyKeyIsRead() throws {
        let config = try load("""
            model: /opt/models/big
            endpoints:
              policy: ipc:///run/reflexd/policy.sock
              actions: tcp://0.0.0.0:6000
              control: inproc://control
            budget:
              average_gflops: 0.3
              deadline_ms: 12.5
              memory_mb: 0.5
            scheduler:
              mode: fixed
              probe_rate: 0
              window: 1
            engine:
              threads: 2
            limits:
              max_message_bytes: 1024
              max_sessions: 3
              session_idle_s: 0.25
              pending_per_robot: 4
            logging:
              level: trace
            security:
              curve:
                enabled: true
                server_secret_key: keys/server.secret
                authorized_keys: /etc/reflexd/clients
                operator_keys: /etc/reflexd/operators
            """)
        #expect(config.model == "/opt/models/big")
        #expect(config.endpoints == EndpointsConfig(
            policy: "ipc:///run/reflexd/policy.sock", actions: "tcp://0.0.0.0:6000", control: "inproc://control"))
        #expect(config.budget == BudgetConfig(average: .gflops(0.3), deadlineMs: 12.5, memoryMB: 0.5))
        #expect(config.scheduler == SchedulerConfig(mode: .fixed, probeRate: 0, window: 1))
        #expect(config.engine.threads == 2)
        #expect(config.limits == LimitsConfig(maxMessageBytes: 1024, maxSessions: 3, sessionIdleS: 0.25, pendingPerRobot: 4))
        #expect(config.logging.level == .trace)
        #expect(config.security.curve == CurveConfig(
            enabled: true, serverSecretKey: "/srv/reflex/etc/keys/server.secret", authorizedKeys: "/etc/reflexd/clients",
            operatorKeys: "/etc/reflexd/operators"))
    }

    @Test func relativePathsResolveAgainstTheConfigFolderNotTheWorkingDirectory() throws {
        let config = try load("""
            model: ../models/default/
            endpoints:
              policy: ipc://run/policy.sock
              actions: ipc://@reflexd-actions
            security:
              curve:
                server_secret_key: ./keys/../keys/server.secret
                authorized_keys: clients
            """)
        #expect(config.model == "/srv/reflex/models/default")
        #expect(config.endpoints.policy == "ipc:///srv/reflex/etc/run/policy.sock")
        #expect(config.endpoints.actions == "ipc://@reflexd-actions")  // abstract namespace: not a path
        #expect(config.security.curve.serverSecretKey == "/srv/reflex/etc/keys/server.secret")
        #expect(config.security.curve.authorizedKeys == "/srv/reflex/etc/clients")
    }

    @Test func aRelativeConfigPathIsTakenFromTheWorkingDirectory() throws {
        let config = try load("model: m\nbudget:\n  deadline_ms: 50\n  memory_mb: 0.5\nscheduler:\n  window: 1_024\nlimits:\n  session_idle_s: 1e2\n")
        #expect(config.budget.deadlineMs == 50)
        #expect(config.budget.memoryMB == 0.5)
        #expect(config.scheduler.window == 1024)
        #expect(config.limits.sessionIdleS == 100)
        #expect(problems("model: m\nbudget:\n  deadline_ms: \"050\"\n") == [
            "/srv/reflex/etc/reflexd.yaml:3:16: budget.deadline_ms: must be a number, got \"050\"",
        ])
    }

    @Test func nonFiniteNumbersAreRefused() {
        #expect(problems("model: m\nbudget:\n  average_gflops: .inf\n  deadline_ms: .nan\n") == [
            "/srv/reflex/etc/reflexd.yaml:3:19: budget.average_gflops: must be a finite number, got .inf",
            "/srv/reflex/etc/reflexd.yaml:4:16: budget.deadline_ms: must be a finite number, got .nan",
        ])
    }

    @Test func bothAverageTargetsAreAnErrorAtTheSecondOne() {
        #expect(problems("""
            model: m
            budget:
              average_gflops: 0.3
              average_fraction: 0.4
            """) == [
            "/srv/reflex/etc/reflexd.yaml:4:3: budget: set average_fraction or average_gflops, not both",
        ])
    }

    // MARK: Endpoints and security

    @Test func malformedEndpointsAreReportedAtTheValue() {
        #expect(problems("""
            model: m
            endpoints:
              policy: http://127.0.0.1:5555
              actions: tcp://127.0.0.1
              control: tcp://127.0.0.1:70000
            """) == [
            "/srv/reflex/etc/reflexd.yaml:3:11: endpoints.policy: must be a tcp://HOST:PORT, ipc://PATH or inproc://NAME endpoint, got \"http://127.0.0.1:5555\"",
            "/srv/reflex/etc/reflexd.yaml:4:12: endpoints.actions: tcp endpoint needs HOST:PORT, as in tcp://127.0.0.1:5555",
            "/srv/reflex/etc/reflexd.yaml:5:12: endpoints.control: tcp port must be 1-65535 or *, got \"70000\"",
        ])
        #expect(problems("model: m\nendpoints:\n  policy: ipc://\n  actions: tcp://127.0.0.1:5555\n  control: tcp://127.0.0.1:5555\n") == [
            "/srv/reflex/etc/reflexd.yaml:3:11: endpoints.policy: ipc endpoint needs a path, as in ipc:///run/reflexd/policy.sock",
            "/srv/reflex/etc/reflexd.yaml:5:12: endpoints.control: same endpoint as endpoints.actions; each socket needs its own",
        ])
    }

    @Test func aControlEndpointOnTheNetworkWithoutCurveIsAnError() {
        for host in ["0.0.0.0", "*", "192.168.1.10", "robot.local", "[::]"] {
            #expect(problems("model: m\nendpoints:\n  control: tcp://\(host):5557\n") == [
                "/srv/reflex/etc/reflexd.yaml:3:12: endpoints.control: tcp://\(host):5557 is reachable from other machines; bind it to 127.0.0.1 or ipc://, or enable security.curve",
            ])
        }
        for local in ["tcp://127.0.0.2:5557", "tcp://localhost:5557", "tcp://[::1]:5557", "ipc:///run/c.sock", "inproc://c"] {
            #expect(problems("model: m\nendpoints:\n  control: \(local)\n") == [])
        }
        // The policy and actions sockets may face the network without CURVE.
        #expect(problems("model: m\nendpoints:\n  policy: tcp://*:5555\n  actions: tcp://0.0.0.0:5556\n") == [])
    }

    @Test func aControlEndpointOnTheNetworkWithCurveIsAccepted() throws {
        let config = try load("""
            model: m
            endpoints:
              control: tcp://0.0.0.0:5557
            security:
              curve:
                enabled: true
                server_secret_key: /k/server.secret
                authorized_keys: /k/clients
                operator_keys: /k/operators
            """)
        #expect(config.endpoints.control == "tcp://0.0.0.0:5557")
    }

    @Test func curveEnabledWithoutKeyPathsIsAnErrorAtEnabled() {
        #expect(problems("""
            model: m
            security:
              curve:
                enabled: yes
            """) == [
            "/srv/reflex/etc/reflexd.yaml:4:14: security.curve.server_secret_key: required when security.curve.enabled is true",
            "/srv/reflex/etc/reflexd.yaml:4:14: security.curve.authorized_keys: required when security.curve.enabled is true",
            "/srv/reflex/etc/reflexd.yaml:4:14: security.curve.operator_keys: required when security.curve.enabled is true",
        ])
    }

    // MARK: Syntax

    @Test func yamlSyntaxErrorsCarryTheirLineAndColumn() {
        #expect(problems("model: m\nbudget:\n  deadline_ms: [1, 2\n") == [
            "/srv/reflex/etc/reflexd.yaml:4:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 3, column 16)",
        ])
        #expect(problems("model: m\n  engine: 1\n") == [
            "/srv/reflex/etc/reflexd.yaml:2:9: YAML syntax error: mapping values are not allowed in this context",
        ])
    }

    @Test func duplicateKeysAreReportedAtTheRepeat() {
        #expect(problems("model: m\nlogging:\n  level: info\n  # a comment\n\n  level: debug\n") == [
            "/srv/reflex/etc/reflexd.yaml:6:3: duplicate key 'level' in the same mapping (first at line 3)",
        ])
        #expect(problems("model: m\nmodel: n\n") == [
            "/srv/reflex/etc/reflexd.yaml:2:1: duplicate key 'model' in the same mapping (first at line 1)",
        ])
        // written another way (flow style): the first occurrence, as Yams marks it
        #expect(problems("model: m\nlogging: {level: info, level: debug}\n") == [
            "/srv/reflex/etc/reflexd.yaml:2:11: duplicate key 'level' in the same mapping",
        ])
    }

    // MARK: Several problems

    @Test func everyProblemIsReportedInFileOrder() {
        let found = problems("""
            model: m
            endpoints:
              control: tcp://0.0.0.0:5557
            budget:
              average_fraction: 0
              deadline_ms: fast
            scheduler:
              mode: adaptive
            logging:
              levle: info
            """)
        #expect(found == [
            "/srv/reflex/etc/reflexd.yaml:3:12: endpoints.control: tcp://0.0.0.0:5557 is reachable from other machines; bind it to 127.0.0.1 or ipc://, or enable security.curve",
            "/srv/reflex/etc/reflexd.yaml:5:21: budget.average_fraction: must be in (0, 1], got 0",
            "/srv/reflex/etc/reflexd.yaml:6:16: budget.deadline_ms: must be a number, got \"fast\"",
            "/srv/reflex/etc/reflexd.yaml:8:9: scheduler.mode: must be one of online, fixed, got \"adaptive\"",
            "/srv/reflex/etc/reflexd.yaml:10:3: logging.levle: unknown key (did you mean 'level'?)",
        ])
    }

    // MARK: Files

    @Test func unreadableAndNonUTF8FilesAreReported() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reflex-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let missing = folder.appendingPathComponent("missing.yaml").path
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: missing) }
        do {
            _ = try ConfigLoader.load(path: missing)
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems[0].description.hasPrefix("\(missing):1:1: cannot read the config file"))
        }

        let latin1 = folder.appendingPathComponent("latin1.yaml")
        try Data(Array("model: m\nlogging:\n  level: caf".utf8) + [0xE9, 0x0A]).write(to: latin1)
        do {
            _ = try ConfigLoader.load(path: latin1.path)
            Issue.record("a Latin-1 file must not load")
        } catch {
            #expect(error.description == "\(latin1.path):3:13: the config file is not valid UTF-8")
        }
    }

    @Test func checkFilesRequiresTheModelAndKeyFilesToExist() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reflex-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("models"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tiny")
        try FileManager.default.copyItem(at: tiny, to: folder.appendingPathComponent("models/default"))
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("models/empty"), withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("reflexd.yaml").path

        let good = "model: models/default\n"
        #expect(throws: Never.self) { try ConfigLoader.load(yaml: good, path: file, checkFiles: true, openFiles: true) }
        // a directory that is not a loadable bundle fails --check-config (openFiles), as it would
        // at start-up; the daemon itself only asks that it exist, and opens it right after
        #expect(problems("model: models/empty\n", path: file, checkFiles: true).isEmpty)
        #expect(problems("model: models/empty\n", path: file, checkFiles: true, openFiles: true).map { $0.contains(":1:8: model: ") && $0.contains("cannot be loaded: missing file") } == [true])

        let bad = """
            model: models/other
            security:
              curve:
                enabled: true
                server_secret_key: keys/server.secret
                authorized_keys: keys/clients
                operator_keys: keys/operators
            """
        do {
            _ = try ConfigLoader.load(yaml: bad, path: file, checkFiles: true)
            Issue.record("missing files must be reported")
        } catch {
            let root = folder.standardizedFileURL.path
            #expect(error.problems.map(\.description) == [
                "\(file):1:8: model: no model bundle directory at \(root)/models/other",
                "\(file):5:24: security.curve.server_secret_key: no such file: \(root)/keys/server.secret",
                "\(file):6:22: security.curve.authorized_keys: no such directory: \(root)/keys/clients",
                "\(file):7:20: security.curve.operator_keys: no such directory: \(root)/keys/operators",
            ])
        }
    }

    // MARK: Live budget updates

    @Test func budgetUpdatesApplyOnlyTheGivenKeys() throws {
        let start = BudgetConfig(average: .fraction(0.4), deadlineMs: 50, memoryMB: 256)
        let request = try WireJSON.parse(#"{"cmd":"budget","average_gflops":0.3,"deadline_ms":null}"#)
        guard case .object(let fields) = request else { Issue.record("not an object"); return }
        let updated = try start.updated(with: fields)
        #expect(updated == BudgetConfig(average: .gflops(0.3), deadlineMs: nil, memoryMB: 256))
        #expect(try start.updated(with: [:]) == start)
        #expect(try start.updated(with: ["average_fraction": .number(JSONNumber(1))]).average == .fraction(1))
    }

    @Test func invalidBudgetUpdatesReportEveryProblemByKeyPath() {
        let start = BudgetConfig()
        let fields: JSONObject = [
            "cmd": .string("budget"),
            "deadline_ms": .number(JSONNumber(0)),
            "memory_mb": .string("lots"),
            "average_fraction": .null,
            "deadlin_ms": .number(JSONNumber(5)),
        ]
        do {
            _ = try start.updated(with: fields)
            Issue.record("must fail")
        } catch {
            #expect(error.problems.map(\.description) == [
                "budget.deadlin_ms: unknown key (did you mean 'deadline_ms'?)",
                "budget.average_fraction: must be a number, got null",
                "budget.deadline_ms: must be > 0 and at most 60000 (one minute), got 0",
                "budget.memory_mb: must be a number, got a string",
            ])
        }
        do {
            _ = try start.updated(with: ["average_fraction": .number(JSONNumber(0.5)!), "average_gflops": .number(JSONNumber(1))])
            Issue.record("must fail")
        } catch {
            #expect(error.description == "budget: set average_fraction or average_gflops, not both")
        }
        do {
            _ = try start.updated(with: ["average_fraction": .bool(true)])
            Issue.record("must fail")
        } catch {
            #expect(error.description == "budget.average_fraction: must be a number, got true")
        }
    }

    @Test func budgetRendersAsTheControlSocketReportsIt() {
        let budget = BudgetConfig(average: .fraction(0.4), deadlineMs: 50, memoryMB: nil)
        #expect(String(decoding: budget.jsonValue.jsonBytes, as: UTF8.self)
            == #"{"average_fraction":0.4,"deadline_ms":50,"memory_mb":null}"#)
    }
}
